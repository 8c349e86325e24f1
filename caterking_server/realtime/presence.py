"""Presence per topic: who is tracked on it, and the diffs its channels get. Every meta
carries `phx_ref` (and `phx_ref_prev` when it replaces one)."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any, Protocol

from caterking_server.realtime.broadcast import Hub, TopicKey


class Tracked(Protocol):
    """A channel as presence sees it (realtime.channel.Channel)."""

    presence_key: str

    @property
    def key(self) -> TopicKey: ...


def new_ref() -> str:
    return "F" + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()


class Presence:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # topic key -> presence key -> {channel: meta}
        self.state: dict[TopicKey, dict[str, dict[Tracked, dict[str, Any]]]] = {}

    def __len__(self) -> int:
        return sum(len(m) for keys in self.state.values() for m in keys.values())

    def snapshot(self, key: TopicKey) -> dict[str, Any]:
        return {
            pkey: {"metas": list(metas.values())}
            for pkey, metas in self.state.get(key, {}).items()
            if metas
        }

    def track(self, ch: Tracked, data: dict[str, Any]) -> None:
        topic = self.state.setdefault(ch.key, {})
        metas = topic.setdefault(ch.presence_key, {})
        old = metas.get(ch)
        meta = dict(data)
        meta["phx_ref"] = new_ref()
        leaves: dict[str, Any] = {}
        if old is not None:
            meta["phx_ref_prev"] = old["phx_ref"]
            leaves = {ch.presence_key: {"metas": [old]}}
        metas[ch] = meta
        self._diff(ch.key, {ch.presence_key: {"metas": [meta]}}, leaves)

    def untrack(self, ch: Tracked) -> None:
        topic = self.state.get(ch.key)
        if not topic:
            return
        metas = topic.get(ch.presence_key)
        if not metas or ch not in metas:
            return
        old = metas.pop(ch)
        if not metas:
            del topic[ch.presence_key]
        if not topic:
            del self.state[ch.key]
        self._diff(ch.key, {}, {ch.presence_key: {"metas": [old]}})

    def _diff(self, key: TopicKey, joins: dict[str, Any], leaves: dict[str, Any]) -> None:
        payload_json = json.dumps({"joins": joins, "leaves": leaves}, separators=(",", ":"))
        self.hub.fan_out(key, "presence_diff", payload_json)
