"""One batch of committed changes → frames on the subscribers' sockets.

Per batch: the tables' RLS flags and privileges are re-read (one query); filters are
matched through the subscription index (work per change grows with the subscriptions
that match, not with all of them); all RLS checks run in one round trip; then each
distinct payload is serialised once and the same frame is queued to every socket that
gets it. A filter is only ever evaluated on a row its subscriber may read: on columns
the role may SELECT, and for a DELETE under RLS only where the subscriber could have
read the deleted row (or on primary-key columns, which every subscriber of the table
receives).
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from typing import Any

import psycopg

from caterking_server.catalog import Catalog, Table
from caterking_server.realtime.pgoutput import UNCHANGED, Change
from caterking_server.realtime.postgres_changes.bindings import Select
from caterking_server.realtime.postgres_changes.filters import NO_VALUE, typed_value
from caterking_server.realtime.postgres_changes.payload import (
    ERR_NO_PK,
    ERR_UNAUTHORIZED,
    change_json,
    encode_change,
    error_json,
    too_large,
)
from caterking_server.realtime.postgres_changes.rls import BYPASS_ROLES, RlsCheck, RlsChecker
from caterking_server.realtime.postgres_changes.subscriptions import (
    Ids,
    Subscription,
    Subscriptions,
    TableSubscriptions,
    Target,
)

log = logging.getLogger(__name__)

# (change, table, {target: ids}, {role: error row text for this change}, the targets
# with an id that needs the RLS pass)
Plan = tuple[Change, Table, dict[Target, Ids], dict[str, str], set[Target]]
_BY_POSITION = operator.itemgetter(1)  # ids items by (position, checked)


def _restorable(ch: Change) -> bool:
    """Whether a DELETE's old row is whole (REPLICA IDENTITY FULL), so it can be put
    back for a moment to ask who could read it."""
    return ch.old is not None and not any(v is UNCHANGED for v in ch.old)


class Dispatcher:
    def __init__(
        self,
        catalog: Catalog,
        subscriptions: Subscriptions,
        rls: RlsChecker,
        *,
        max_record_bytes: int,
    ) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self.rls = rls
        self.max_record_bytes = max_record_bytes

    async def dispatch(self, changes: list[Change]) -> None:
        """Deliver one batch of committed changes, in order."""
        if not self.subscriptions.by_table:
            return
        todo: list[tuple[Change, list[TableSubscriptions], Table]] = []
        infos: dict[int, Table] = {}
        for ch in changes:
            tabs = self.subscriptions.for_relation(ch.relation)
            if not tabs:
                continue
            info = await self.catalog.table(ch.relation.schema, ch.relation.name)
            if info is None:
                continue
            infos[info.oid] = info
            todo.append((ch, tabs, info))
        if not todo:
            return
        await self.catalog.refresh(list(infos.values()))
        plans: list[Plan] = []
        for ch, tabs, info in todo:
            plan = await self._plan(ch, tabs, info)
            if plan is not None:
                plans.append(plan)
        if not plans:
            return
        visible = await self._rls(plans)
        for n, (ch, info, targets, errs, checked_targets) in enumerate(plans):
            payloads: dict[tuple[str, Select], str] = {}
            frames: dict[tuple[str, Select, str, str, tuple[int, ...]], bytes] = {}
            for (sub, sel), idmap in targets.items():
                if not sub.alive:
                    continue
                err = errs.get(sub.role)
                ordered = sorted(idmap.items(), key=_BY_POSITION)
                if (sub, sel) in checked_targets and not (
                    err is not None or (n, sub.rls_key) in visible
                ):
                    ids = [i for i, (_pos, checked) in ordered if not checked]
                else:
                    ids = [i for i, _ in ordered]
                if not ids:
                    continue
                dkey = (sub.role, sel)
                data = payloads.get(dkey)
                if data is None:
                    data = await self._data(ch, info, sub.role, sel, err)
                    payloads[dkey] = data
                fkey = (sub.role, sel, sub.vsn, sub.topic, tuple(ids))
                frame = frames.get(fkey)
                if frame is None:
                    frame = encode_change(sub.topic, sub.vsn, ids, data)
                    frames[fkey] = frame
                sub.send_frame(frame)

    async def _plan(self, ch: Change, tabs: list[TableSubscriptions], info: Table) -> Plan | None:
        """Who gets this change, by which bindings, and which of them need RLS."""
        names = [c.name for c in ch.relation.columns]
        row = ch.old if ch.type == "DELETE" else ch.new
        errors: dict[str, str | None] = {}
        allowed: dict[str, frozenset[str] | None] = {}  # None: every column (bypass)
        typed: dict[tuple[str, Callable[[str], Any]], Any] = {}
        targets: dict[Target, Ids] = {}
        pk = info.pk
        deleted_under_rls = ch.type == "DELETE" and info.rls

        def value(col: str, key: Callable[[str], Any]) -> Any:
            tkey = (col, key)
            if tkey not in typed:
                try:
                    idx = names.index(col)
                except ValueError:
                    typed[tkey] = NO_VALUE
                else:
                    typed[tkey] = (
                        NO_VALUE if row is None or idx >= len(row) else typed_value(key, row[idx])
                    )
            return typed[tkey]

        async def role_facts(role: str) -> tuple[str | None, frozenset[str] | None]:
            if role not in errors:
                errors[role] = await self._row_error(ch, info, role)
                allowed[role] = (
                    None if role in BYPASS_ROLES else await self.catalog.selectable(role, info)
                )
            return errors[role], allowed[role]

        checked_targets: set[Target] = set()

        def add(s: Subscription, checked: bool) -> None:
            target = (s.sub, s.binding.select)
            if checked:
                checked_targets.add(target)
            ids = targets.setdefault(target, {})
            prev = ids.get(s.binding.id)
            # One binding id delivered unchecked wins over the same id needing a check.
            if prev is None or (prev[1] and not checked):
                ids[s.binding.id] = (s.pos, checked)

        # Error rows (no primary key, or the role may not read it) go to every subscriber
        # of the role, filter or not (realtime.apply_rls checks filters only for readable
        # rows): the rare path scans the table's subscriptions of those roles.
        if ch.type != "DELETE":
            bad = set()
            for tab in tabs:
                for role in list(tab.roles):
                    err, _ = await role_facts(role)
                    if err is not None:
                        bad.add(role)
            if bad:
                for tab in tabs:
                    for sub in list(tab.by_sub):
                        if sub.role not in bad or not sub.alive:
                            continue
                        for sel, wanted in tab.wanted_ids(sub, ch.type).items():
                            have = targets.get((sub, sel))
                            if have is None:
                                targets[(sub, sel)] = dict(wanted)
                            else:
                                have.update(wanted)

        matched: list[Subscription] = []
        for tab in tabs:
            matched.extend(tab.plain)
            for (col, key), by_value in tab.index.items():
                v = value(col, key)
                if v is NO_VALUE:
                    continue
                try:
                    bucket = by_value.get(v)
                except TypeError:  # unhashable: cannot equal any filter value
                    bucket = None
                if bucket:
                    matched.extend(bucket)
            for s in tab.scan:
                f = s.binding.filter
                assert f is not None
                if f.matches_typed(value(f.column, f.key)):
                    matched.append(s)

        for s in matched:
            b = s.binding
            if not s.sub.alive or not b.wants(ch.type):
                continue
            role = s.sub.role
            err, cols = await role_facts(role)
            if err is not None:
                add(s, False)
                continue
            f = b.filter
            # A filter never looks at a column its subscriber may not read.
            if f is not None and cols is not None and f.column not in cols:
                continue
            if role in BYPASS_ROLES or not info.rls:
                add(s, False)
            elif ch.type == "DELETE":
                # Every subscriber of the table receives a deleted row's primary key; a
                # filter on any other column is answered only for those who could read
                # the row before it went.
                assert deleted_under_rls
                add(s, f is not None and f.column not in pk)
            else:
                add(s, True)
        if not targets:
            return None
        errs = {r: e for r, e in errors.items() if e is not None}
        return ch, info, targets, errs, checked_targets

    async def _row_error(self, ch: Change, info: Table, role: str) -> str | None:
        """The error row an INSERT/UPDATE becomes for `role`: no primary key → 400,
        no SELECT on every primary-key column → 401. DELETEs never get one."""
        if ch.type == "DELETE":
            return None
        if not info.pk:
            return ERR_NO_PK
        if role in BYPASS_ROLES:
            return None
        allowed = await self.catalog.selectable(role, info)
        if not all(col in allowed for col in info.pk):
            return ERR_UNAUTHORIZED
        return None

    async def _rls(self, plans: list[Plan]) -> set[tuple[int, tuple[str, str]]]:
        """(plan index, rls key) of the rows each claims set may read, for the targets
        whose delivery needs it. Anything not listed is withheld."""
        work: dict[tuple[str, int], tuple[Table, list[int], dict[tuple[str, str], str]]] = {}
        visible: set[tuple[int, tuple[str, str]]] = set()
        for n, (ch, info, _targets, _errs, checked_targets) in enumerate(plans):
            kind = "deleted" if ch.type == "DELETE" else "visible"
            if not info.pk:
                continue  # error rows only (INSERT/UPDATE); a DELETE has no key to check
            groups: dict[tuple[str, str], str] | None = None
            for s, _sel in checked_targets:
                if kind == "deleted" and not _restorable(ch):
                    continue  # key-only old row: nothing to check against, withheld
                if groups is None:
                    entry = work.setdefault((kind, info.oid), (info, [], {}))
                    entry[1].append(n)
                    groups = entry[2]
                if s.rls_key not in groups:
                    groups[s.rls_key] = s.claims_json  # one member's claims stand for all
        if not work:
            return visible
        checks = []
        for (kind, _oid), (info, idxs, groups) in work.items():
            names = [c.name for c in plans[idxs[0]][0].relation.columns]
            keys = []
            rows = []
            for n in idxs:
                ch = plans[n][0]
                tup = (ch.old if kind == "deleted" else ch.new) or []
                keys.append([tup[names.index(col)] for col in info.pk])
                if kind == "deleted":
                    rows.append(
                        {c: v for c, v in zip(names, tup, strict=False) if c in info.columns}
                    )
            glist = sorted(groups)  # by role: the plan is re-made only when it changes
            xids = sorted({plans[n][0].xid for n in idxs})
            claims = [[r, groups[(r, c)]] for r, c in glist]
            checks.append(RlsCheck(kind, info, idxs, glist, keys, rows, claims, xids))
        try:
            results = await self.rls.visible(checks)
        except psycopg.Error:
            log.exception("RLS check failed; withholding the batch's rows")
            await self.rls.close()
            return visible
        for check, seen in zip(checks, results, strict=True):
            for gi, gkey in enumerate(check.glist):
                ords = seen.get(gi) or ()
                for k, n in enumerate(check.idxs):
                    if k + 1 in ords:
                        visible.add((n, gkey))
        return visible

    async def _data(
        self, ch: Change, info: Table, role: str, sel: Select = None, error: str | None = None
    ) -> str:
        """The change's `data` JSON for `role` and a binding's `select`."""
        if error is not None:
            return error_json(ch, info, error)
        allowed = await self.catalog.selectable(role, info) if role not in BYPASS_ROLES else None
        types = [await self.catalog.type_of(c.type_oid) for c in ch.relation.columns]
        return change_json(ch, info, types, allowed, sel, too_large(ch, self.max_record_bytes))
