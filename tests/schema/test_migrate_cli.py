"""`caterking-server migrate` on a blank database: applies, then applies nothing."""

from __future__ import annotations

import hashlib
import uuid

import psycopg
import pytest

from caterking_schema.migrate import migrations
from caterking_server.cli import main
from caterking_server.embedded_pg import EmbeddedPostgres, free_port


def test_migrate_twice_on_plain_postgres(
    pg_server: EmbeddedPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as c:
        c.execute(f"create database {name}")
    url = pg_server.url(name)
    assert main(["migrate", "--db-url", url, "--with-supabase-base"]) == 0
    out = capsys.readouterr().out
    assert "applied 0001_kitchen_contract" in out
    assert "applied 0002_realtime_kitchen_channels" in out
    assert "applied 0003_action_times_allergens" in out
    assert "applied 0004_prep_heuristics" in out
    assert "applied 0005_kitchen_scope_and_devices" in out
    assert "applied 0006_exact_table_grants" in out
    assert "applied 0007_broadcast_from_database" in out
    assert "applied 0008_only_the_database_broadcasts_changes" in out
    assert "applied 0009_main_topic_rule_is_restrictive" in out
    assert main(["migrate", "--db-url", url, "--with-supabase-base"]) == 0
    out = capsys.readouterr().out
    assert "nothing to apply" in out and "applied 0001" not in out
    with psycopg.connect(url) as c:
        n = c.execute("select count(*) from caterking_migrations.applied").fetchone()
    assert n is not None and n[0] == len(migrations())


def test_migrate_without_base_on_plain_postgres_fails_clearly(
    pg_server: EmbeddedPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as c:
        c.execute(f"create database {name}")
    assert main(["migrate", "--db-url", pg_server.url(name)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: migration 0001_kitchen_contract failed:")
    assert err.count("\n") == 1


def test_unreachable_url_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    assert main(["migrate", "--db-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to the database:")
    assert err.count("\n") == 1


def test_missing_url(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CATERKING_DB_URL", raising=False)
    assert main(["migrate"]) == 2
    assert "--db-url is required" in capsys.readouterr().err


def test_a_comment_edit_is_not_a_change_but_an_edit_of_the_sql_is(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checksums cover the SQL, not its comments: 0001's header was reworded (it named a
    document outside this repository) without every database since warning about it.
    Ledgers written the earlier way (over the whole text) are taken and noted anew."""
    by_version = {m.version: m for m in migrations()}
    with psycopg.connect(db_url, autocommit=True) as c:
        # As a database migrated before: 0001's old whole-text checksum, 0002's whole text.
        c.execute("update caterking_migrations.applied set checksum = '30e93570127e50fb' "
                  "where version = '0001'")  # fmt: skip
        whole = hashlib.sha256(by_version["0002"].sql.encode()).hexdigest()[:16]
        c.execute(
            "update caterking_migrations.applied set checksum = %s where version = '0002'",
            (whole,),
        )
        c.execute("update caterking_migrations.applied set checksum = 'feedfacefeedface' "
                  "where version = '0003'")  # fmt: skip
    assert main(["migrate", "--db-url", db_url]) == 0
    out = capsys.readouterr().out
    assert "0001_kitchen_contract changed" not in out and "0002_" not in out
    assert "warning: migration 0003_action_times_allergens changed since it was applied" in out
    with psycopg.connect(db_url) as c:
        rows = dict(c.execute("select version, checksum from caterking_migrations.applied"))
    assert rows["0001"] == by_version["0001"].checksum
    assert rows["0002"] == by_version["0002"].checksum
    assert rows["0003"] == "feedfacefeedface"  # a real change stays visible
