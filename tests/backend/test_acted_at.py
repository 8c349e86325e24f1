"""The backend sends when the chef acted (``p_acted_at``); a server whose schema predates
that argument (a hosted project not migrated yet) still gets every action."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any

import psycopg
import pytest

from caterking_display.backend import SupabaseBackend
from caterking_display.backend.supabase_backend import iso_time
from caterking_display.backend.types import ServerRefused
from caterking_display.domain.actions import Action, Outcome
from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect, seed_kitchen, task_row
from tests.stack import StackThread, cloned_database, create_display


def schema_v1_actions_sql() -> str:
    """The action functions exactly as migration 0001 created them (4 public args)."""
    sql = (
        resources.files("caterking_schema.migrations")
        .joinpath("0001_kitchen_contract.sql")
        .read_text("utf-8")
    )
    start = sql.index("-- Task actions ---")
    end = sql.index("-- Realtime ---")
    return sql[start:end]


def back_to_schema_v1_actions(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c, c.transaction():
        for fn in ("claim_task", "release_task", "complete_task", "reopen_task"):
            c.execute(f"drop function public.{fn}(uuid, uuid, uuid, text, timestamptz)")
        c.execute(
            "drop function caterking_private.task_action(text, uuid, uuid, uuid, text, timestamptz)"
        )
        c.execute(schema_v1_actions_sql().encode())


@pytest.fixture(scope="module")
def old_stack(
    pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """A stack whose database has the tables of today but the actions of schema v1."""
    with cloned_database(pg_server, "old") as url:
        back_to_schema_v1_actions(url)
        with StackThread(LocalStack(tmp_path_factory.mktemp("old-stack"), db_url=url)) as s:
            yield s


async def signed_in(stack: LocalStack, k: Kitchen) -> SupabaseBackend:
    dev = create_display(stack.url, stack.service_role_key, k)
    backend = SupabaseBackend(stack.url, stack.anon_key)
    backend.set_session(await backend.sign_in(dev.email, dev.password))
    return backend


def count_rpc_posts(
    backend: SupabaseBackend, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """The JSON bodies of the RPC requests the backend sends from now on."""
    sent: list[dict[str, Any]] = []
    real = backend._request

    async def spy(method: str, path: str, **kw: Any) -> Any:
        if path.startswith("/rest/v1/rpc/"):
            sent.append(dict(kw.get("json") or {}))
        return await real(method, path, **kw)

    monkeypatch.setattr(backend, "_request", spy)
    return sent


def test_times_are_sent_as_iso_8601_with_an_offset() -> None:
    t = datetime(2026, 11, 25, 16, 41, 7, 500000, tzinfo=timezone(timedelta(hours=1)))
    assert iso_time(t) == "2026-11-25T15:41:07.500000+00:00"
    assert re.fullmatch(r".*[+-]\d\d:\d\d", iso_time(datetime.now(UTC)))
    with pytest.raises(ValueError, match="time zone"):
        iso_time(datetime(2026, 11, 25, 16, 41))


async def test_the_chefs_time_reaches_a_current_server(
    stack: LocalStack, kitchen: Kitchen, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(stack.db_dsn) as c:
        tid = add_task(c, kitchen, created_at=datetime.now(UTC) - timedelta(hours=1))
    backend = await signed_in(stack, kitchen)
    sent = count_rpc_posts(backend, monkeypatch)
    acted = datetime.now(UTC) - timedelta(minutes=4)
    try:
        res = await backend.call_action(
            Action.CLAIM, tid, kitchen.staff[0], str(uuid.uuid4()), "pass", 5.0, acted_at=acted
        )
    finally:
        await backend.aclose()
    assert res.outcome is Outcome.APPLIED and backend.sends_acted_at
    assert [b.get("p_acted_at") for b in sent] == [iso_time(acted)]
    assert iso_time(acted).endswith("+00:00")
    with connect(stack.db_dsn) as c:
        assert task_row(c, tid)["claimed_at"] == acted


async def test_a_time_without_a_zone_never_blocks_the_action(
    stack: LocalStack, kitchen: Kitchen, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(stack.db_dsn) as c:
        tid = add_task(c, kitchen)
    backend = await signed_in(stack, kitchen)
    sent = count_rpc_posts(backend, monkeypatch)
    try:
        res = await backend.call_action(
            Action.CLAIM,
            tid,
            kitchen.staff[0],
            str(uuid.uuid4()),
            "pass",
            5.0,
            acted_at=datetime(2026, 11, 25, 16, 41),
        )
    finally:
        await backend.aclose()
    assert res.outcome is Outcome.APPLIED
    assert ["p_acted_at" in b for b in sent] == [False]  # the server stamps it
    assert backend.sends_acted_at


async def test_a_server_without_p_acted_at_gets_the_action_without_it(
    old_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(old_stack.db_dsn) as c:
        k = seed_kitchen(c)
        t1, t2 = add_task(c, k, title="Dice onions"), add_task(c, k, title="Zest lemons")
    backend = await signed_in(old_stack, k)
    sent = count_rpc_posts(backend, monkeypatch)
    chef = k.staff[0]
    acted = datetime.now(UTC) - timedelta(minutes=3)
    try:
        first = await backend.call_action(
            Action.CLAIM, t1, chef, str(uuid.uuid4()), "pass", 5.0, acted_at=acted
        )
        # Refused once for the unknown argument, then sent as the old schema wants.
        assert first.outcome is Outcome.APPLIED and first.task_row is not None
        assert ["p_acted_at" in b for b in sent] == [True, False]
        assert not backend.sends_acted_at
        # Remembered: the next action goes without it at once.
        second = await backend.call_action(
            Action.COMPLETE, t2, chef, str(uuid.uuid4()), "pass", 5.0, acted_at=acted
        )
        assert second.outcome is Outcome.APPLIED
        assert ["p_acted_at" in b for b in sent] == [True, False, False]
    finally:
        await backend.aclose()
    with connect(old_stack.db_dsn) as c:
        # The old server stamps arrival: it cannot know better.
        assert task_row(c, t1)["claimed_at"] > acted + timedelta(minutes=2)
        assert task_row(c, t2)["status"] == "done"


async def test_a_missing_function_is_not_mistaken_for_an_old_schema(
    old_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(old_stack.db_dsn) as c:
        k = seed_kitchen(c)
        tid = add_task(c, k)
    backend = await signed_in(old_stack, k)
    sent = count_rpc_posts(backend, monkeypatch)
    hide = "alter function public.reopen_task(uuid, uuid, uuid, text) rename to {}"
    with psycopg.connect(old_stack.db_dsn, autocommit=True) as c:
        c.execute(hide.format("reopen_task_hidden"))
    try:
        with pytest.raises(ServerRefused) as err:
            await backend.call_action(
                Action.REOPEN,
                tid,
                k.staff[0],
                str(uuid.uuid4()),
                "pass",
                5.0,
                acted_at=datetime.now(UTC),
            )
        assert (err.value.status, err.value.code) == (404, "PGRST202")
        # Tried with the time, then without; neither exists: nothing is remembered.
        assert ["p_acted_at" in b for b in sent] == [True, False]
        assert backend.sends_acted_at
    finally:
        await backend.aclose()
        with psycopg.connect(old_stack.db_dsn, autocommit=True) as c:
            c.execute(
                "alter function public.reopen_task_hidden(uuid, uuid, uuid, text) "
                "rename to reopen_task"
            )
