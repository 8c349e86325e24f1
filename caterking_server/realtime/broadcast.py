"""Topic membership and broadcast relay.

Public and private channels of the same name are distinct: the hub key is
(private, topic)."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from caterking_server.realtime.serializers import (
    ENCODING_JSON,
    V2,
    FrameError,
    Message,
    frame_bytes,
)

log = logging.getLogger(__name__)

TopicKey = tuple[bool, str]


class Member(Protocol):
    """A channel as its topic sees it (realtime.channel.Channel)."""

    topic: str
    alive: bool
    broadcast_self: bool

    @property
    def key(self) -> TopicKey: ...

    @property
    def vsn(self) -> str: ...

    def send_frame(self, frame: bytes) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.members: dict[TopicKey, set[Member]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.members.values())

    def add(self, ch: Member) -> None:
        self.members.setdefault(ch.key, set()).add(ch)

    def remove(self, ch: Member) -> None:
        group = self.members.get(ch.key)
        if group is not None:
            group.discard(ch)
            if not group:
                del self.members[ch.key]

    def of(self, key: TopicKey) -> list[Member]:
        return list(self.members.get(key, ()))

    def broadcast(self, key: TopicKey, msg: Message, sender: Member | None) -> int:
        """Relay a user broadcast to the topic's channels (the sender only with self).

        Every member of a topic has the same topic string, so each frame is encoded once
        per serializer and the same bytes are queued to every socket."""
        sent = 0
        payload_json = msg.payload_json
        frames: dict[tuple[str, bool], bytes | None] = {}
        for ch in self.of(key):
            if ch is sender and not ch.broadcast_self:
                continue
            if not ch.alive:
                continue
            vsn = ch.vsn
            binary = vsn == V2 and msg.binary is not None
            if not binary and msg.binary is not None and msg.encoding != ENCODING_JSON:
                continue  # raw bytes cannot travel in a JSON frame
            fkey = (vsn, binary)
            if fkey not in frames:
                if binary:
                    out = Message(ch.topic, "broadcast", msg.payload, binary=msg.binary)
                    out.encoding = msg.encoding
                else:
                    if payload_json is None:
                        payload_json = json.dumps(msg.payload, separators=(",", ":"))
                    out = Message(ch.topic, "broadcast", None, payload_json=payload_json)
                try:
                    frames[fkey] = frame_bytes(out, vsn)
                except (FrameError, TypeError, ValueError, RecursionError) as exc:
                    log.info("broadcast on %s not relayed to %s clients: %s", ch.topic, vsn, exc)
                    frames[fkey] = None
            frame = frames[fkey]
            if frame is None:
                continue
            ch.send_frame(frame)
            sent += 1
        return sent

    def fan_out(self, key: TopicKey, event: str, payload_json: str) -> None:
        """One server message (presence) to every live channel of a topic, encoded once
        per serializer."""
        frames: dict[str, bytes] = {}
        for ch in self.of(key):
            if not ch.alive:
                continue
            vsn = ch.vsn
            frame = frames.get(vsn)
            if frame is None:
                frame = frames[vsn] = frame_bytes(
                    Message(ch.topic, event, None, payload_json=payload_json), vsn
                )
            ch.send_frame(frame)


def valid_broadcast(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("event"), str)
        and (isinstance(payload.get("payload"), dict) or "payload" not in payload)
    )
