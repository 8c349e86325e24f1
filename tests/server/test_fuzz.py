"""A small sample of the fuzzing in bench/fuzz.py (issue 10): generated Realtime frames
(both serializers), REST requests and Auth requests against a stack of their own. No
5xx, every socket keeps answering, and no traceback (or error) in the server's log.
The bench runs 10,000+ cases per surface; here a few hundred keep the suite fast."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.ratelimit import AuthLimits
from caterking_server.stack import LocalStack
from tests.fuzzing import auth_cases, fresh_tokens, rest_cases, run_http, run_realtime
from tests.pg import Kitchen, add_task, connect, seed_kitchen
from tests.server.helpers import create_user
from tests.stack import StackThread, cloned_database

N = 150  # cases per surface here; bench/fuzz.py runs 10,000+


@dataclass
class Target:
    stack: LocalStack
    kitchen: Kitchen
    tokens: list[str]
    users: list[str]


@pytest.fixture(scope="module")
def target(
    pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """A stack of its own: the fuzzer writes and deletes whatever it may."""
    with (
        cloned_database(pg_server, "fuzz") as url,
        StackThread(
            LocalStack(
                tmp_path_factory.mktemp("fuzz-stack"),
                db_url=url,
                auth_limits=AuthLimits.unlimited(),
            )
        ) as s,
    ):
        with connect(s.db_dsn) as conn:
            k = seed_kitchen(conn)
            for n in range(3):
                add_task(conn, k, title=f"Fuzz {n}", notes="n" * n)
        toks = fresh_tokens(s.jwt_secret, k.tenant_id, k.kitchen_id, s.anon_key, s.service_role_key)
        users = [create_user(s)[0] for _ in range(2)]
        yield Target(s, k, toks, users)


def clean_log(caplog: pytest.LogCaptureFixture) -> None:
    bad = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR
    ]
    assert not bad, bad[:5]


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
def test_fuzzed_realtime_frames(target: Target, vsn: str, caplog: pytest.LogCaptureFixture) -> None:
    with connect(target.stack.db_dsn) as conn:

        def change(n: int) -> None:  # changes for the fuzzed subscriptions' filters
            if n % 40 == 0:
                tid = add_task(conn, target.kitchen, title=f"During {n}", priority=n % 3)
                conn.execute("update tasks set notes = 'x' where id = %s", (tid,))
                conn.execute("delete from tasks where id = %s", (tid,))

        out = run_realtime(
            target.stack.url,
            target.stack.anon_key,
            target.tokens,
            target.kitchen.kitchen_id,
            vsn,
            N,
            between=change,
        )
    assert out.cases >= N * 0.9
    assert out.ok(), (out.dead_sockets[:3], out.server_errors[:3])
    clean_log(caplog)


def test_fuzzed_rest_requests(target: Target, caplog: pytest.LogCaptureFixture) -> None:
    out = run_http(target.stack.url, rest_cases(target.tokens), N)
    assert out.cases + out.unsendable >= N * 0.9
    assert out.ok(), out.server_errors[:3]
    clean_log(caplog)


def test_fuzzed_auth_requests(target: Target, caplog: pytest.LogCaptureFixture) -> None:
    out = run_http(target.stack.url, auth_cases(target.tokens, target.users), N)
    assert out.cases + out.unsendable >= N * 0.9
    assert out.ok(), out.server_errors[:3]
    clean_log(caplog)
