"""Who may read and write what the kitchen learned: tenant-scoped reads, server writes."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.pg import ANON, SERVICE, Kitchen, as_claims, device_claims, seed_kitchen
from tests.schema.prep import History


@pytest.fixture
def two(conn: Any) -> tuple[Kitchen, Kitchen]:
    a, b = seed_kitchen(conn), seed_kitchen(conn)
    for k in (a, b):
        History(conn, k).many("Dice onions", [10, 12, 14])
    return a, b


@pytest.mark.parametrize("table", ["prep_samples", "prep_estimates"])
@pytest.mark.parametrize("device_kind", ["display", "admin"])
def test_each_tenant_reads_only_its_own(
    conn: Any, two: tuple[Kitchen, Kitchen], table: str, device_kind: str
) -> None:
    a, b = two
    for k in (a, b):
        with as_claims(conn, device_claims(k.tenant_id, k.kitchen_id, kind=device_kind)):
            rows = conn.execute(f"select tenant_id from {table}").fetchall()
        assert rows and {str(r["tenant_id"]) for r in rows} == {k.tenant_id}


@pytest.mark.parametrize("table", ["prep_samples", "prep_estimates"])
def test_anon_gets_nothing(conn: Any, two: tuple[Kitchen, Kitchen], table: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_claims(conn, ANON):
        conn.execute(f"select * from {table}").fetchall()


@pytest.mark.parametrize(
    "statement",
    [
        "update prep_estimates set p50_minutes = 1",
        "delete from prep_estimates",
        "insert into prep_estimates (tenant_id, task_key, station, p50_minutes, p90_minutes, "
        "basis) values (%(t)s, 'x', '', 1, 2, 'exact')",
        "update prep_samples set duration_seconds = 60",
        "delete from prep_samples",
    ],
)
@pytest.mark.parametrize("device_kind", ["display", "admin"])
def test_signed_in_users_cannot_write_what_was_learned(
    conn: Any, two: tuple[Kitchen, Kitchen], statement: str, device_kind: str
) -> None:
    a, _ = two
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_claims(conn, device_claims(a.tenant_id, a.kitchen_id, kind=device_kind)),
    ):
        conn.execute(statement, {"t": a.tenant_id})


def test_the_service_role_may_write(conn: Any, two: tuple[Kitchen, Kitchen]) -> None:
    a, _ = two
    with as_claims(conn, SERVICE):
        n = conn.execute(
            "update prep_estimates set p50_minutes = p50_minutes where tenant_id = %s",
            (a.tenant_id,),
        ).rowcount
    assert n == 1


def test_the_station_figures_are_private(conn: Any, two: tuple[Kitchen, Kitchen]) -> None:
    a, _ = two
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_claims(conn, device_claims(a.tenant_id, a.kitchen_id, kind="admin")),
    ):
        conn.execute(
            "select caterking_private.prep_station_estimate(tenant_id, station) from tasks"
        ).fetchall()
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_claims(conn, device_claims(a.tenant_id, a.kitchen_id, kind="admin")),
    ):
        conn.execute("select caterking_private.rebuild_prep_estimates(null)")


def test_prep_estimates_stays_published_with_full_rows(conn: Any) -> None:
    pub = conn.execute(
        "select 1 from pg_publication_tables where pubname = 'supabase_realtime' "
        "and tablename = 'prep_estimates'"
    ).fetchone()
    ident = conn.execute(
        "select relreplident from pg_class where oid = 'public.prep_estimates'::regclass"
    ).fetchone()
    assert pub is not None and ident == {"relreplident": "f"}
