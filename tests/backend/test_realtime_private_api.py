"""The parts of realtime-py that `backend/realtime_link.py` relies on but that are not
its public API.

The realtime link subclasses realtime-py's client: it replaces three methods (the
receive loop, the heartbeat and the connect-error hook) and reads or resets about a
dozen attributes on close. realtime-py may rename or rework any of them in a minor
release without notice. When one of these tests fails after an upgrade, do not just
update the name here: read the new release's `_async/client.py` and `_async/channel.py`,
check that the link still (1) sees every frame first, (2) tracks its heartbeat replies,
(3) reports a lost socket instead of reconnecting, and (4) leaves no task behind on
close — then run `tests/sync` and `tests/e2e`, which exercise all four.
"""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version

import pytest
from realtime import AsyncRealtimeClient
from realtime._async.channel import AsyncRealtimeChannel
from realtime._async.push import AsyncPush
from realtime._async.timer import AsyncTimer

from caterking_display.backend import realtime_link

PINNED = "2.34.1"

# Methods the link's client overrides; the base class must still call them by these
# names with these parameters, or the override silently stops being used.
OVERRIDDEN = {
    "_listen": ["self"],
    "_heartbeat": ["self"],
    "_on_connect_error": ["self", "e"],
}
# Attributes of a client the link reads, replaces or clears when it closes.
CLIENT_ATTRIBUTES = [
    "_ws_connection",
    "_listen_task",
    "_heartbeat_task",
    "_close_generation",
    "send_buffer",
    "channels",
]
# Attributes of a channel the link cancels or clears when it closes.
CHANNEL_ATTRIBUTES = ["_push_buffer", "_background_tasks", "join_push", "messages_waiting_for_ack"]


def test_realtime_is_the_pinned_release() -> None:
    got = version("realtime")
    assert got == PINNED, (
        f"realtime {got} is installed, the realtime link was checked against {PINNED}: "
        "read this file's docstring, re-check the private parts below, then update PINNED"
    )


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_overridden_methods_still_exist_with_the_same_shape(name: str) -> None:
    base = getattr(AsyncRealtimeClient, name, None)
    assert base is not None, f"AsyncRealtimeClient.{name} is gone: the link's override is dead"
    assert inspect.iscoroutinefunction(base), f"AsyncRealtimeClient.{name} is no longer async"
    assert list(inspect.signature(base).parameters) == OVERRIDDEN[name]
    ours = getattr(realtime_link._Client, name)
    assert ours is not base, f"the link no longer overrides {name}"
    assert list(inspect.signature(ours).parameters) == OVERRIDDEN[name]


def test_the_base_client_starts_our_loops_and_calls_our_error_hook() -> None:
    on_connect = inspect.getsource(AsyncRealtimeClient._on_connect)
    assert "self._listen()" in on_connect, "_on_connect no longer starts self._listen()"
    assert "self._heartbeat()" in on_connect, "_on_connect no longer starts self._heartbeat()"
    assert "self._listen_task" in on_connect and "self._heartbeat_task" in on_connect
    send = inspect.getsource(AsyncRealtimeClient.send)
    assert "self._on_connect_error(" in send, "send() no longer reports a closed socket"


def test_make_ref_and_set_auth_are_still_there() -> None:
    assert not inspect.iscoroutinefunction(AsyncRealtimeClient._make_ref)
    assert list(inspect.signature(AsyncRealtimeClient._make_ref).parameters) == ["self"]
    assert inspect.iscoroutinefunction(AsyncRealtimeClient.set_auth)


async def test_client_and_channel_attributes_the_link_touches() -> None:
    client = realtime_link._Client(
        "ws://127.0.0.1:9/realtime/v1", "token", hb_interval=1.0, timeout=1.0
    )
    for name in CLIENT_ATTRIBUTES:
        assert hasattr(client, name), f"AsyncRealtimeClient no longer has {name}"
    assert client._ws_connection is None and client._listen_task is None
    assert isinstance(client._close_generation, int)
    assert isinstance(client.send_buffer, list) and isinstance(client.channels, dict)

    channel = client.channel("kitchen:k", {"config": {"private": True}})
    assert isinstance(channel, AsyncRealtimeChannel)
    # The receive loop finds a frame's channel by the frame's topic.
    assert channel.topic == "realtime:kitchen:k"
    assert client.channels.get(channel.topic) is channel, "channels is no longer keyed by topic"
    for name in CHANNEL_ATTRIBUTES:
        assert hasattr(channel, name), f"AsyncRealtimeChannel no longer has {name}"
    assert isinstance(channel.join_push, AsyncPush)
    assert hasattr(channel.join_push, "timeout_task")
    assert isinstance(channel.messages_waiting_for_ack, dict)
    assert isinstance(channel._push_buffer, list)
    assert isinstance(channel._background_tasks, set)
    assert isinstance(channel.rejoin_timer, AsyncTimer)
    assert callable(channel.rejoin_timer.reset)
    assert list(inspect.signature(channel._release_subscribe_waiter).parameters) == []
    assert list(inspect.signature(channel._handle_message).parameters) == ["message"]
    # The link's close() must run against this exact shape without raising.
    link = realtime_link.RealtimeLink.__new__(realtime_link.RealtimeLink)
    link._client = client
    link._closed = False
    await asyncio.wait_for(link.close(), 5)
    assert client.channels == {} and client._close_generation == 1
