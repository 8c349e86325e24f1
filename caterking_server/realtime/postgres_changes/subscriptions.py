"""Who is subscribed to what: every postgres_changes subscription, by (schema, table),
indexed so that a change finds the subscriptions it matches without looking at all of
them (no filter; `eq`/`in` filters by column value; other filters scanned)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from caterking_server.realtime.pgoutput import Relation
from caterking_server.realtime.postgres_changes.bindings import EVENTS, Binding, Select


class Subscriber(Protocol):
    """What a subscription needs of its channel: who it is (for RLS) and where frames go."""

    topic: str
    role: str
    claims_json: str
    rls_key: tuple[str, str]  # claims that may decide RLS (token-timing claims left out)
    alive: bool

    @property
    def vsn(self) -> str: ...

    def send_frame(self, frame: bytes) -> None: ...


@dataclass(slots=True, eq=False)
class Subscription:
    sub: Subscriber
    binding: Binding
    pos: int = 0  # the binding's place in its channel's list (order of `ids`)
    role: str = ""  # the subscriber's role when registered (the table's role counts)


Target = tuple[Subscriber, Select]  # one frame per subscriber and distinct `select`
# Per target: binding id -> (its position, whether delivering it needs the RLS pass).
Ids = dict[int, tuple[int, bool]]


class TableSubscriptions:
    """The subscriptions of one (schema, table) key, indexed for dispatch: no filter,
    `eq`/`in` filters by (column, value), other filters scanned, and per subscriber (for
    error rows, which go to all of a role's subscriptions). Insertion-ordered dicts make
    adding and removing one subscription O(1)."""

    __slots__ = ("by_sub", "index", "plain", "roles", "scan", "subs", "wanted")

    def __init__(self) -> None:
        self.subs: dict[Subscription, None] = {}
        self.plain: dict[Subscription, None] = {}
        self.index: dict[tuple[str, Callable[[str], Any]], dict[Any, dict[Subscription, None]]] = {}
        self.scan: dict[Subscription, None] = {}
        self.roles: dict[str, int] = {}
        self.by_sub: dict[Subscriber, dict[Subscription, None]] = {}
        # (subscriber, change type) -> {select: ids}: every binding of that subscriber
        # that wants the type, for error rows (built on first use, dropped on change).
        self.wanted: dict[tuple[Subscriber, str], dict[Select, Ids]] = {}

    def add(self, s: Subscription) -> None:
        self.subs[s] = None
        self.by_sub.setdefault(s.sub, {})[s] = None
        self._forget(s.sub)
        self.roles[s.role] = self.roles.get(s.role, 0) + 1
        f = s.binding.filter
        if f is None:
            self.plain[s] = None
        elif f.op in ("eq", "in"):
            by_value = self.index.setdefault((f.column, f.key), {})
            for v in f.values:
                by_value.setdefault(v, {})[s] = None
        else:
            self.scan[s] = None

    def remove(self, s: Subscription) -> None:
        self.subs.pop(s, None)
        mine = self.by_sub.get(s.sub)
        if mine is not None:
            mine.pop(s, None)
            if not mine:
                del self.by_sub[s.sub]
        self._forget(s.sub)
        n = self.roles.get(s.role, 0) - 1
        if n > 0:
            self.roles[s.role] = n
        else:
            self.roles.pop(s.role, None)
        f = s.binding.filter
        if f is None:
            self.plain.pop(s, None)
        elif f.op in ("eq", "in"):
            ikey = (f.column, f.key)
            by_value = self.index.get(ikey)
            if by_value is not None:
                for v in f.values:
                    bucket = by_value.get(v)
                    if bucket is not None:
                        bucket.pop(s, None)
                        if not bucket:
                            del by_value[v]
                if not by_value:
                    del self.index[ikey]
        else:
            self.scan.pop(s, None)

    def _forget(self, sub: Subscriber) -> None:
        for typ in EVENTS:
            self.wanted.pop((sub, typ), None)

    def wanted_ids(self, sub: Subscriber, typ: str) -> dict[Select, Ids]:
        key = (sub, typ)
        out = self.wanted.get(key)
        if out is None:
            out = {}
            for s in self.by_sub.get(sub, ()):
                if s.binding.wants(typ):
                    ids = out.setdefault(s.binding.select, {})
                    ids.setdefault(s.binding.id, (s.pos, False))
            self.wanted[key] = out
        return out


class Subscriptions:
    """All postgres_changes subscriptions, keyed by (schema, table)."""

    def __init__(self) -> None:
        self.by_table: dict[tuple[str, str | None], TableSubscriptions] = {}
        self.by_sub: dict[Subscriber, list[Subscription]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, sub: Subscriber, bindings: list[Binding]) -> None:
        """Register `sub`'s bindings (identical bindings once: they share an id)."""
        mine = self.by_sub.setdefault(sub, [])
        seen = {json.dumps(s.binding.raw, sort_keys=True, default=str) for s in mine}
        for pos, b in enumerate(bindings):
            canon = json.dumps(b.raw, sort_keys=True, default=str)
            if canon in seen:
                continue
            seen.add(canon)
            s = Subscription(sub, b, pos, sub.role)
            key = (b.schema, b.table)
            tab = self.by_table.get(key)
            if tab is None:
                tab = self.by_table[key] = TableSubscriptions()
            tab.add(s)
            mine.append(s)
            self._count += 1

    def remove(self, sub: Subscriber) -> None:
        """Forget `sub`: O(its own bindings), whatever else is subscribed."""
        for s in self.by_sub.pop(sub, ()):
            key = (s.binding.schema, s.binding.table)
            tab = self.by_table.get(key)
            if tab is None:
                continue
            tab.remove(s)
            self._count -= 1
            if not tab.subs:
                del self.by_table[key]

    def for_relation(self, rel: Relation) -> list[TableSubscriptions]:
        """The subscriptions a change of `rel` may concern: its table's, its schema's
        (`table: "*"`), and every schema's."""
        out = []
        for key in ((rel.schema, rel.name), (rel.schema, None), ("*", None)):
            tab = self.by_table.get(key)
            if tab is not None:
                out.append(tab)
        return out
