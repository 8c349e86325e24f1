"""The embedded PostgreSQL demands a password: 127.0.0.1 is open to every local user."""

from __future__ import annotations

import stat

import psycopg
import pytest

from caterking_server.embedded_pg import EmbeddedPostgres


def test_superuser_needs_the_password(pg_server: EmbeddedPostgres) -> None:
    mode = stat.S_IMODE(pg_server.password_file.stat().st_mode)
    assert mode == 0o600
    with psycopg.connect(pg_server.dsn, connect_timeout=5) as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)
    no_password = f"postgresql://postgres@127.0.0.1:{pg_server.port}/postgres"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(no_password, connect_timeout=5)
    wrong = f"postgresql://postgres:guess@127.0.0.1:{pg_server.port}/postgres"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)
