"""One joined channel of one socket: its config, claims, bindings and expiry timer."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Protocol

from caterking_server.realtime.postgres_changes.bindings import Binding
from caterking_server.realtime.postgres_changes.rls import rls_key
from caterking_server.realtime.serializers import Message


class FrameSink(Protocol):
    """Where a channel's frames go (its socket), and in which serializer."""

    @property
    def vsn(self) -> str: ...

    def send(self, msg: Message) -> None: ...

    def send_frame(self, frame: bytes) -> None: ...


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class Channel:
    def __init__(self, out: FrameSink, topic: str, join_ref: str | None, config: Any) -> None:
        cfg = config if isinstance(config, dict) else {}
        b_raw, p_raw = cfg.get("broadcast"), cfg.get("presence")
        bcast: dict[str, Any] = b_raw if isinstance(b_raw, dict) else {}
        pres: dict[str, Any] = p_raw if isinstance(p_raw, dict) else {}
        self.out = out
        self.topic = topic
        self.name = topic[len("realtime:") :]
        self.join_ref = join_ref
        self.private = truthy(cfg.get("private"))
        self.broadcast_self = truthy(bcast.get("self"))
        self.broadcast_ack = truthy(bcast.get("ack"))
        key = pres.get("key")
        self.presence_key = str(key) if key else str(uuid.uuid4())
        self.presence_enabled = truthy(pres.get("enabled"))
        self.raw_bindings: list[Any] = (
            list(cfg["postgres_changes"]) if isinstance(cfg.get("postgres_changes"), list) else []
        )
        self.bindings: list[Binding] = []
        self.token: str | None = None
        self.claims: dict[str, Any] = {}
        self.role = "anon"
        self.claims_json = "{}"
        self.rls_key = ("anon", "{}")
        self.can_write = True  # broadcast (private: the policies, at join)
        self.can_track = True  # presence
        self.alive = True
        self.expiry: asyncio.TimerHandle | None = None

    @property
    def key(self) -> tuple[bool, str]:
        """Public and private channels of one name are distinct topics."""
        return (self.private, self.topic)

    def set_claims(self, token: str, claims: dict[str, Any]) -> None:
        self.token = token
        self.claims = claims
        self.role = str(claims.get("role") or "anon")
        self.claims_json = json.dumps(claims, sort_keys=True, separators=(",", ":"))
        self.rls_key = rls_key(self.role, claims)

    # A member of its topic (broadcast.Member) and a postgres_changes Subscriber.
    @property
    def vsn(self) -> str:
        return self.out.vsn

    def send_frame(self, frame: bytes) -> None:
        self.out.send_frame(frame)

    def system(self, extension: str, status: str, message: str) -> None:
        payload = {
            "channel": self.name,
            "extension": extension,
            "message": message,
            "status": status,
        }
        self.out.send(Message(self.topic, "system", payload))

    def cancel_expiry(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
