"""Topic membership and broadcast relay (supabase-protocol.md §1.11).

Public and private channels of the same name are distinct: the hub key is
(private, topic)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .serializers import ENCODING_JSON, V2, Message

if TYPE_CHECKING:
    from .channel import Channel

TopicKey = tuple[bool, str]


class Hub:
    def __init__(self) -> None:
        self.members: dict[TopicKey, set[Channel]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.members.values())

    def add(self, ch: Channel) -> None:
        self.members.setdefault(ch.key, set()).add(ch)

    def remove(self, ch: Channel) -> None:
        group = self.members.get(ch.key)
        if group is not None:
            group.discard(ch)
            if not group:
                del self.members[ch.key]

    def of(self, key: TopicKey) -> list[Channel]:
        return list(self.members.get(key, ()))

    def broadcast(self, key: TopicKey, msg: Message, sender: Channel | None) -> int:
        """Relay a user broadcast to the topic's channels (the sender only with self)."""
        sent = 0
        payload_json: str | None = None
        for ch in self.of(key):
            if ch is sender and not ch.broadcast_self:
                continue
            if not ch.alive:
                continue
            if ch.conn.vsn == V2 and msg.binary is not None:
                out = Message(ch.topic, "broadcast", msg.payload, binary=msg.binary)
                out.encoding = msg.encoding
            else:
                if msg.binary is not None and msg.encoding != ENCODING_JSON:
                    continue  # raw bytes cannot travel in a JSON frame
                if payload_json is None:
                    payload_json = json.dumps(msg.payload, separators=(",", ":"))
                out = Message(ch.topic, "broadcast", None, payload_json=payload_json)
            ch.conn.send(out)
            sent += 1
        return sent


def valid_broadcast(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("event"), str)
        and (isinstance(payload.get("payload"), dict) or "payload" not in payload)
    )
