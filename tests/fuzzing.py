"""Hypothesis strategies and drivers for fuzzing the local stack (issue 10): Realtime
frames (both serializers, text and binary), REST query strings, headers and bodies, and
Auth bodies. Shared by tests/server/test_fuzz.py (a small sample, against an
in-process stack) and bench/fuzz.py (10,000+ cases per surface, against `serve`).

A driver sends one generated case and records what came back; it never raises for the
server's answer. A run passes when no answer is a 5xx, every socket stays usable, and
the server logged no traceback."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

# --- JSON ---------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "NaN", "sNaN", "Infinity", "-0", "1e999", "\x00", "null", "*", "%"])
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

COLUMNS = [
    "id",
    "title",
    "status",
    "priority",
    "quantity",
    "due_at",
    "kitchen_id",
    "tenant_id",
    "allergens",
    "notes",
    "version",
    "claimed_device",
    "nope",
    "",
]
OPS = [
    "eq",
    "neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "is",
    "like",
    "ilike",
    "cs",
    "fts",
    "not.eq",
    "x",
]
VALUES = [
    "1",
    "-1",
    "0.5",
    "NaN",
    "sNaN",
    "Infinity",
    "true",
    "null",
    "2030-01-01T10:00:00Z",
    "2030-13-45",
    "00000000-0000-0000-0000-000000000000",
    "(1,2,3)",
    '("a,b","c")',
    "(",
    ")",
    '"',
    "pending",
    "%",
    "*",
    "é",
    "\x00",
    "'; drop table tasks; --",
]
column = st.sampled_from(COLUMNS) | st.text(max_size=12)
value = st.sampled_from(VALUES) | st.text(max_size=30)
filter_text = st.builds(
    lambda c, op, v: f"{c}={op}.{v}", column, st.sampled_from(OPS), value
) | st.text(max_size=40)


# --- Realtime frames ----------------------------------------------------------------------

# Mostly well-formed bindings on published tables with filters on real columns (they
# reach validation, the registry and dispatch), some hostile ones.
good_binding = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["*", "INSERT", "UPDATE", "DELETE"]),
        "schema": st.just("public"),
        "table": st.sampled_from(["tasks", "tasks", "staff", "prep_estimates"]),
    },
    optional={
        "filter": st.builds(
            lambda c, op, v: f"{c}={op}.{v}",
            st.sampled_from(COLUMNS[:-2]),
            st.sampled_from(["eq", "neq", "lt", "lte", "gt", "gte", "in"]),
            value,
        ),
        "select": st.lists(st.sampled_from(COLUMNS[:-2]), max_size=3),
    },
)
binding = good_binding | st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["*", "INSERT", "UPDATE", "DELETE", "insert", ""]) | json_values,
        "schema": st.sampled_from(["public", "*", "auth", "realtime"]) | json_values,
        "table": st.sampled_from(["tasks", "staff", "kitchens", "prep_estimates", "*", "nope"])
        | json_values,
        "filter": filter_text | json_values,
        "select": st.lists(st.sampled_from(COLUMNS) | st.text(max_size=6), max_size=4)
        | json_values,
    },
)


def _topics(kitchen_id: str) -> st.SearchStrategy[str]:
    # A few topics again and again (so broadcasts and presence meet joined channels),
    # and anything else.
    common = st.sampled_from(
        ["realtime:board", "realtime:t1", f"realtime:kitchen:{kitchen_id}", "realtime:t2"]
    )
    odd = st.sampled_from(
        [
            "phoenix",
            "realtime:",
            f"realtime:kitchen:{kitchen_id}:announcements",
            "realtime:kitchen:" + "-" * 36,
            "realtime:kitchen:" + "0" * 36,
            "elsewhere",
            "",
        ]
    ) | st.text(max_size=30).map(lambda t: "realtime:" + t)
    return common | common | common | odd


def realtime_frames(tokens: list[str], kitchen_id: str, vsn: str) -> st.SearchStrategy[str | bytes]:
    """One client frame: joins, broadcasts, presence, token updates and leaves with
    hostile contents (most well-formed enough to reach the handlers), malformed JSON and
    shapes, deep nesting, and (v2) binary broadcast frames."""
    topic = _topics(kitchen_id)
    ref = st.none() | st.text(max_size=4) | st.integers(0, 10**6)
    odd_ref = ref | json_values
    # Mostly tokens that are accepted (anon, service, a display), so joins get through.
    token = st.sampled_from(tokens[:3] * 4 + tokens[3:] + ["", "garbage", "sb_publishable_x"])
    config = st.fixed_dictionaries(
        {},
        optional={
            "private": st.sampled_from([False, False, False, True]) | json_values,
            "broadcast": st.fixed_dictionaries(
                {}, optional={"self": st.booleans(), "ack": st.booleans()}
            )
            | json_values,
            "presence": st.fixed_dictionaries(
                {}, optional={"key": st.text(max_size=8) | json_values, "enabled": st.booleans()}
            )
            | json_values,
            "postgres_changes": st.lists(good_binding, min_size=1, max_size=4)
            | st.lists(binding, max_size=4)
            | st.lists(json_values, max_size=3),
        },
    )
    join = st.tuples(
        topic,
        st.just("phx_join"),
        st.fixed_dictionaries({"config": config}, optional={"access_token": token}) | json_values,
    )
    broadcast = st.tuples(
        topic,
        st.just("broadcast"),
        st.fixed_dictionaries(
            {"type": st.just("broadcast"), "event": st.text(max_size=10)},
            optional={"payload": json_values},
        )
        | json_values,
    )
    presence = st.tuples(
        topic,
        st.just("presence"),
        st.fixed_dictionaries(
            {"event": st.sampled_from(["track", "untrack", "x"])},
            optional={"payload": json_values},
        )
        | json_values,
    )
    other = st.tuples(
        topic | st.just("phoenix"),
        st.sampled_from(["access_token", "phx_leave", "heartbeat", "phx_reply"])
        | st.text(max_size=12),
        st.fixed_dictionaries({"access_token": token}) | json_values,
    )
    message = join | join | broadcast | presence | other

    def encode(m: tuple[str, str, Any], r: Any, j: Any) -> str:
        t, e, p = m
        if vsn == "2.0.0":
            return json.dumps([j, r, t, e, p])
        return json.dumps({"topic": t, "event": e, "payload": p, "ref": r, "join_ref": j})

    well_formed = st.builds(encode, message, ref, ref) | st.builds(
        encode, message, odd_ref, odd_ref
    )
    if vsn == "2.0.0":
        shapes = st.lists(json_values, max_size=6).map(json.dumps)
    else:
        shapes = st.dictionaries(
            st.sampled_from(["topic", "event", "payload", "ref", "join_ref", "x"]), json_values
        ).map(json.dumps)
    deep = st.integers(100, 5000).map(lambda n: "[" * n + "]" * n) | st.integers(100, 5000).map(
        lambda n: '{"a":' * n + "1" + "}" * n
    )
    junk = st.text(max_size=200)
    text: st.SearchStrategy[str | bytes] = (
        well_formed | well_formed | well_formed | shapes | deep | junk
    )
    if vsn != "2.0.0":
        return text | st.binary(max_size=200)

    def binary(kind: int, parts: list[bytes], encoding: int, body: bytes, lie: int) -> bytes:
        lens = [min(255, max(0, len(p) + lie)) for p in parts]
        return bytes([kind, *lens, encoding]) + b"".join(parts) + body

    part = (
        st.binary(max_size=20)
        | topic.map(lambda t: t.encode()[:255])
        | st.sampled_from([b"e", b"1"])
    )
    frames = st.builds(
        binary,
        st.sampled_from([3, 3, 3, 4, 0, 255]),
        st.lists(part, min_size=5, max_size=5),
        st.sampled_from([0, 1, 2]),
        st.binary(max_size=100) | json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([0, 0, 0, 1, -1, 200]),
    )
    return text | frames | st.binary(max_size=60)


# --- REST ---------------------------------------------------------------------------------

REST_PATHS = [
    "/rest/v1/tasks",
    "/rest/v1/staff",
    "/rest/v1/kitchens",
    "/rest/v1/task_ops",
    "/rest/v1/prep_estimates",
    "/rest/v1/rpc/claim_task",
    "/rest/v1/rpc/complete_task",
    "/rest/v1/rpc/nope",
    "/rest/v1/",
    "/rest/v1/tasks/x",
    "/rest/v1/nope",
]
KEYS = [
    "select",
    "order",
    "limit",
    "offset",
    "on_conflict",
    "columns",
    "or",
    "and",
    "not.or",
    "a.b",
]


@dataclass(frozen=True)
class HttpCase:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes | None

    def describe(self) -> str:
        return f"{self.method} {self.path}?{self.query} {self.headers} {self.body!r:.200}"


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='.()*,:')}={quote(v, safe='.()*,:')}" for k, v in pairs)


def rest_cases(tokens: list[str]) -> st.SearchStrategy[HttpCase]:
    select_value = st.lists(
        st.sampled_from(COLUMNS)
        | st.sampled_from(
            ["*", "t:title", "id::text", "x::bad type", "tenant:tenants(name)", "a->b", "count()"]
        ),
        max_size=4,
    ).map(",".join)
    order_value = st.lists(
        st.builds(
            lambda c, m: c + m,
            st.sampled_from(COLUMNS),
            st.sampled_from(["", ".asc", ".desc", ".nullsfirst", ".x"]),
        ),
        max_size=3,
    ).map(",".join)
    logic = st.lists(filter_text.map(lambda f: f.replace("=", ".", 1)), max_size=3).map(
        lambda xs: "(" + ",".join(xs) + ")"
    ) | st.text(max_size=30)
    pair = st.one_of(
        st.tuples(st.just("select"), select_value),
        st.tuples(st.just("order"), order_value),
        st.tuples(
            st.sampled_from(["limit", "offset"]),
            st.sampled_from(["0", "1", "-1", "x", "99999999999999999999"]) | value,
        ),
        st.tuples(st.sampled_from(["or", "and", "not.or"]), logic),
        st.tuples(
            st.sampled_from(["on_conflict", "columns"]),
            st.sampled_from(["id", "id,title", "nope", ""]),
        ),
        st.tuples(column, st.builds(lambda op, v: f"{op}.{v}", st.sampled_from(OPS), value)),
        st.tuples(
            st.sampled_from(
                ["p_task_id", "p_staff_id", "p_op_id", "p_device", "p_acted_at", "apikey"]
            ),
            value,
        ),
        st.tuples(st.sampled_from(KEYS) | st.text(max_size=8), st.text(max_size=20)),
    )
    auth = st.sampled_from(tokens * 3 + ["", "garbage"])
    headers = st.fixed_dictionaries(
        # Mostly a valid key, so most cases get past the gateway to the handlers.
        {"apikey": st.sampled_from([tokens[0]] * 8 + ["", "garbage"])},
        optional={
            "Authorization": auth.map(lambda t: f"Bearer {t}".strip()),
            "Accept": st.sampled_from(
                [
                    "application/json",
                    "application/vnd.pgrst.object+json",
                    "text/csv",
                    "*/*",
                    "x",
                    "application/json;q=0",
                ]
            ),
            "Prefer": st.lists(
                st.sampled_from(
                    [
                        "count=exact",
                        "return=representation",
                        "return=minimal",
                        "resolution=merge-duplicates",
                        "resolution=ignore-duplicates",
                        "missing=default",
                        "tx=rollback",
                        "x",
                    ]
                ),
                max_size=3,
            ).map(",".join),
            "Range": st.sampled_from(["0-1", "5-2", "x", "items=0-0", "3-"]),
            "Accept-Profile": st.sampled_from(["public", "auth", ""]),
            "Content-Type": st.sampled_from(
                ["application/json", "text/csv", "application/octet-stream"]
            ),
        },
    )
    rpc_body = st.fixed_dictionaries(
        {},
        optional={
            "p_task_id": value | json_values,
            "p_staff_id": value | json_values,
            "p_op_id": st.uuids().map(str) | value,
            "p_device": st.text(max_size=100) | json_values,
            "p_acted_at": value | json_values,
        },
    )
    row = st.dictionaries(st.sampled_from(COLUMNS) | st.text(max_size=6), json_values, max_size=5)
    body = (
        st.none()
        | st.one_of(rpc_body, row, st.lists(row, max_size=3), json_values).map(
            lambda v: json.dumps(v).encode()
        )
        | st.binary(max_size=50)
        | st.integers(100, 3000).map(lambda n: b"[" * n + b"]" * n)
    )
    return st.builds(
        lambda m, p, q, h, b: HttpCase(m, p, _query(q), h, b),
        st.sampled_from(["GET"] * 4 + ["POST"] * 3 + ["PATCH", "DELETE", "HEAD", "PUT", "OPTIONS"]),
        st.sampled_from(REST_PATHS),
        st.lists(pair, max_size=5),
        headers,
        body,
    )


# --- Auth ---------------------------------------------------------------------------------


def auth_cases(tokens: list[str], user_ids: list[str]) -> st.SearchStrategy[HttpCase]:
    ids = st.sampled_from([*user_ids, "00000000-0000-0000-0000-000000000000", "x", ""])
    routes = st.one_of(
        st.tuples(
            st.just("POST"),
            st.sampled_from(
                [
                    "/auth/v1/token?grant_type=password",
                    "/auth/v1/token?grant_type=refresh_token",
                    "/auth/v1/token?grant_type=x",
                    "/auth/v1/token",
                ]
            ),
        ),
        st.tuples(
            st.just("POST"),
            st.sampled_from(
                [
                    "/auth/v1/admin/users",
                    "/auth/v1/signup",
                    "/auth/v1/logout",
                    "/auth/v1/logout?scope=others",
                    "/auth/v1/logout?scope=x",
                ]
            ),
        ),
        st.tuples(
            st.sampled_from(["GET", "PUT", "DELETE"]),
            ids.map(lambda i: f"/auth/v1/admin/users/{i}"),
        ),
        st.tuples(
            st.just("GET"),
            st.builds(
                lambda p, pp, s: (
                    f"/auth/v1/admin/users?page={quote(p)}&per_page={quote(pp)}&sort={quote(s)}"
                ),
                value,
                st.sampled_from(["1", "0", "1000", "x", "-5"]),
                st.sampled_from(["created_at asc", "created_at desc", "email", "created_at x", ""]),
            ),
        ),
        st.tuples(
            st.sampled_from(["GET", "PUT"]),
            st.sampled_from(
                ["/auth/v1/user", "/auth/v1/settings", "/auth/v1/health", "/auth/v1/nope"]
            ),
        ),
    )
    field_values = {
        "email": st.sampled_from(["display@demo.caterking.local", "", "a@b", "x"])
        | st.emails().map(str)
        | json_values,
        "password": st.sampled_from(["", "short", "correct horse battery"])
        | st.text(max_size=40)
        | json_values,
        "phone": st.text(max_size=15) | json_values,
        "refresh_token": st.text(max_size=30) | json_values,
        "app_metadata": st.dictionaries(
            st.sampled_from(["tenant_id", "kitchen_id", "device_kind", "device_name", "x"]),
            json_values,
            max_size=4,
        )
        | json_values,
        "user_metadata": json_values,
        "ban_duration": st.sampled_from(["none", "24h", "1h30m", "99999999999999h", "-1h", "x"])
        | json_values,
        "email_confirm": json_values,
        "id": st.uuids().map(str) | json_values,
    }
    body = (
        st.none()
        | st.fixed_dictionaries({}, optional=field_values).map(lambda d: json.dumps(d).encode())
        | json_values.map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=40)
    )
    auth = st.sampled_from(tokens * 3 + ["", "garbage"])
    headers = st.fixed_dictionaries(
        # Mostly a valid key, so most cases get past the gateway to the handlers.
        {"apikey": st.sampled_from([tokens[0]] * 8 + ["", "garbage"])},
        optional={
            "Authorization": auth.map(lambda t: f"Bearer {t}".strip()),
            "X-Supabase-Api-Version": st.sampled_from(["2024-01-01", "x"]),
            "Content-Type": st.just("application/json"),
        },
    )
    return st.builds(
        lambda r, h, b: HttpCase(
            r[0], r[1].split("?", 1)[0], r[1].split("?", 1)[1] if "?" in r[1] else "", h, b
        ),
        routes,
        headers,
        body,
    )


# --- drivers ------------------------------------------------------------------------------


@dataclass
class Outcome:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # 5xx answers, described
    dead_sockets: list[str] = field(default_factory=list)  # sockets that stopped answering
    closed_by_server: int = 0
    unsendable: int = 0  # cases the HTTP client itself refuses to send (illegal headers)
    seen: Counter[str] = field(default_factory=Counter)  # what the server sent (Realtime)

    def ok(self) -> bool:
        return not self.server_errors and not self.dead_sockets


def fuzz_settings(n: int) -> settings:
    return settings(
        max_examples=n,
        database=None,
        deadline=None,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def run_http(
    base: str,
    strategy: st.SearchStrategy[HttpCase],
    n: int,
    *,
    between: Callable[[int], None] | None = None,
) -> Outcome:
    out = Outcome()
    client = httpx.Client(timeout=60)

    @fuzz_settings(n)
    @given(strategy)
    def one(case: HttpCase) -> None:
        url = f"{base}{case.path}" + (f"?{case.query}" if case.query else "")
        try:
            r = client.request(case.method, url, headers=case.headers, content=case.body)
        except (httpx.LocalProtocolError, httpx.InvalidURL, httpx.UnsupportedProtocol):
            out.unsendable += 1
            return
        except httpx.HTTPError as exc:
            out.server_errors.append(f"{type(exc).__name__}: {case.describe()}")
            return
        out.cases += 1
        out.statuses[r.status_code] += 1
        if r.status_code >= 500:
            out.server_errors.append(f"{r.status_code} {r.text[:200]} <- {case.describe()}")
        if between is not None:
            between(out.cases)

    try:
        one()
    finally:
        client.close()
    return out


MARKS = {
    "ok reply": ('"phx_reply"', '"status":"ok"'),
    "subscribed": ("Subscribed to PostgreSQL",),
    "postgres_changes": ('"postgres_changes"', '"data"'),
    "broadcast": ('"broadcast"',),
    "presence": ('"presence_',),
    "error reply": ('"phx_reply"', '"status":"error"'),
}


class _Socket:
    def __init__(self, ws_base: str, apikey: str, vsn: str, seen: Counter[str]) -> None:
        self.url = f"{ws_base}/realtime/v1/websocket?apikey={apikey}&vsn={vsn}"
        self.vsn = vsn
        self.ref = 0
        self.seen = seen
        self.joins: dict[str, str] = {}
        self.ws: ClientConnection = ws_connect(self.url, max_size=None, open_timeout=30)

    def note(self, msg: str | bytes) -> None:
        if isinstance(msg, bytes):
            self.seen["binary"] += 1
            return
        for name, marks in MARKS.items():
            if all(m in msg for m in marks):
                self.seen[name] += 1

    def drain(self) -> None:
        try:
            while True:
                self.note(self.ws.recv(timeout=0))
        except TimeoutError:
            return

    def alive(self, within: float = 20.0) -> bool:
        """A heartbeat is answered (everything before it handled)."""
        self.ref += 1
        ref = f"hb{self.ref}"
        if self.vsn == "2.0.0":
            self.ws.send(json.dumps([None, ref, "phoenix", "heartbeat", {}]))
        else:
            self.ws.send(
                json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": ref})
            )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            msg = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(msg, str) and f'"{ref}"' in msg:
                return True
            self.note(msg)
        return False

    def close(self) -> None:
        self.ws.close()


def run_realtime(
    http_base: str,
    apikey: str,
    tokens: list[str],
    kitchen_id: str,
    vsn: str,
    n: int,
    *,
    between: Callable[[int], None] | None = None,
    check_every: int = 25,
) -> Outcome:
    out = Outcome()
    ws_base = http_base.replace("http", "ws", 1)
    sock = _Socket(ws_base, apikey, vsn, out.seen)
    sent = 0

    @fuzz_settings(n)
    @given(realtime_frames(tokens, kitchen_id, vsn))
    def one(frame: str | bytes) -> None:
        nonlocal sock, sent
        try:
            sock.ws.send(frame)
            sock.drain()
            sent += 1
            out.cases += 1
            if sent % check_every == 0 and not sock.alive():
                out.dead_sockets.append(f"no heartbeat reply after {frame!r:.200}")
        except (ConnectionClosed, OSError) as exc:
            # The server may end a socket (a duplicate-topic storm is not a crash), but
            # never without a close frame, and a new one must work at once.
            out.closed_by_server += 1
            if isinstance(exc, ConnectionClosed) and exc.rcvd is None:
                out.dead_sockets.append(f"dropped without a close frame after {frame!r:.200}")
            sock = _Socket(ws_base, apikey, vsn, out.seen)
        if between is not None:
            between(out.cases)

    try:
        one()
        if not sock.alive():
            out.dead_sockets.append("no heartbeat reply at the end")
    finally:
        sock.close()
    return out


def fresh_tokens(secret: str, tenant: str, kitchen: str, anon: str, service: str) -> list[str]:
    """anon first (the apikey), then service, a display, a display of nowhere, an expired
    one and one signed with another secret."""
    from caterking_server import tokens as t

    now = int(time.time())
    display = {
        "role": "authenticated",
        "sub": str(uuid.uuid4()),
        "exp": now + 3600,
        "app_metadata": {"tenant_id": tenant, "kitchen_id": kitchen, "device_kind": "display"},
    }
    return [
        anon,
        service,
        t.sign(display, secret),
        t.sign({**display, "app_metadata": {"kitchen_id": "x"}}, secret),
        t.sign({**display, "exp": now - 10}, secret),
        t.sign(display, "another-secret-" + "x" * 32),
        t.sign({"role": "postgres", "exp": now + 3600}, secret),
    ]
