"""Presence per topic (supabase-protocol.md §1.12): every meta carries `phx_ref`."""

from __future__ import annotations

import base64
import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caterking_server.realtime.broadcast import Hub, TopicKey
    from caterking_server.realtime.channel import Channel


def new_ref() -> str:
    return "F" + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()


class Presence:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # topic key -> presence key -> {channel: meta}
        self.state: dict[TopicKey, dict[str, dict[Channel, dict[str, Any]]]] = {}

    def __len__(self) -> int:
        return sum(len(m) for keys in self.state.values() for m in keys.values())

    def snapshot(self, key: TopicKey) -> dict[str, Any]:
        return {
            pkey: {"metas": list(metas.values())}
            for pkey, metas in self.state.get(key, {}).items()
            if metas
        }

    def track(self, ch: Channel, data: dict[str, Any]) -> None:
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

    def untrack(self, ch: Channel) -> None:
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
