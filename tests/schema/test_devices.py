"""Which device acted (issue 10, item 9): a signed-in caller's actions record the device
of its account (JWT `app_metadata.device_name`, else the email's local part), never the
free-text `p_device`; the stored name is bounded. `p_device` stays accepted, and only
service_role's is used (cut to 64 characters)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caterking_display.domain.device import recorded_device
from tests.pg import SERVICE, Kitchen, add_task, as_claims, call, device_claims, task_row


def display(k: Kitchen, **meta: Any) -> dict[str, Any]:
    claims = device_claims(k.tenant_id, k.kitchen_id)
    claims["app_metadata"].update(meta)
    return claims


def ledger_device(conn: Any, tid: str) -> list[Any]:
    rows = conn.execute(
        "select device from task_ops where task_id = %s order by received_at", (tid,)
    ).fetchall()
    return [r["device"] for r in rows]


def test_the_account_names_the_device_not_p_device(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    me = display(k, device_name="pass-display")
    res = call(conn, me, "claim_task", tid, k.staff[0], device="wall-2-spoofed")
    assert res["outcome"] == "applied"
    assert res["task"]["claimed_device"] == "pass-display"
    assert task_row(conn, tid)["claimed_device"] == "pass-display"
    assert ledger_device(conn, tid) == ["pass-display"]
    # Completing a pending task claims it in the same moment: same device.
    t2 = add_task(conn, k)
    res = call(conn, me, "complete_task", t2, k.staff[1], device="elsewhere")
    assert res["task"]["claimed_device"] == "pass-display"


def test_without_a_device_name_the_email_local_part(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    me = display(k)
    me["email"] = "wall-2@harbour.example"
    assert call(conn, me, "claim_task", tid, k.staff[0], device="x")["task"]["claimed_device"] == (
        "wall-2"
    )
    # Neither: no device is recorded (a display cannot name one).
    t2 = add_task(conn, k)
    assert (
        call(conn, display(k), "claim_task", t2, k.staff[0], device="x")["task"]["claimed_device"]
        is None
    )


def test_names_are_bounded_and_cleaned(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    me = display(k, device_name="  " + "n" * 200 + "  ")
    huge = "d" * 12_000_000  # the attack: 12 MB on every board fetch
    res = call(conn, me, "claim_task", tid, k.staff[0], device=huge)
    assert res["task"]["claimed_device"] == "n" * 64
    t2 = add_task(conn, k)
    res = call(conn, display(k, device_name="pass\x1b[2J\x07"), "claim_task", t2, k.staff[0])
    assert res["task"]["claimed_device"] == "pass[2J"
    # A device_name that is not text is ignored.
    t3 = add_task(conn, k)
    me = display(k, device_name={"x": 1})
    me["email"] = "line@harbour.example"
    assert call(conn, me, "claim_task", t3, k.staff[0])["task"]["claimed_device"] == "line"


def test_service_role_names_the_device_within_the_bound(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    res = call(conn, SERVICE, "claim_task", tid, k.staff[0], device="chef-phone-" + "9" * 100)
    assert res["task"]["claimed_device"] == ("chef-phone-" + "9" * 100)[:64]
    assert ledger_device(conn, tid) == [res["task"]["claimed_device"]]
    t2 = add_task(conn, k)
    assert (
        call(conn, SERVICE, "claim_task", t2, k.staff[0], device="  ")["task"]["claimed_device"]
        is None
    )


def test_stored_device_names_are_bounded_whoever_writes_them(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    admin = device_claims(k.tenant_id, k.kitchen_id, kind="admin")
    with pytest.raises(psycopg.errors.CheckViolation), as_claims(conn, admin):
        conn.execute("update tasks set claimed_device = %s where id = %s", ("z" * 65, tid))
    with as_claims(conn, admin):
        conn.execute("update tasks set claimed_device = %s where id = %s", ("z" * 64, tid))
    assert task_row(conn, tid)["claimed_device"] == "z" * 64


# The board works out the same name from its session, to know its own claims from
# another board's (domain.device.recorded_device); the two must never disagree.
_names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]).filter(lambda c: c != "\x00"),
    max_size=80,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.one_of(st.none(), _names, st.integers(), st.just({"x": 1})),
    email=st.one_of(st.none(), _names.map(lambda s: s + "@k.example"), _names),
)
def test_the_board_names_itself_as_the_server_records_it(
    conn: Any, k: Kitchen, name: Any, email: Any
) -> None:
    claims = display(k)
    if name is not None:
        claims["app_metadata"]["device_name"] = name
    if email is not None:
        claims["email"] = email
    with as_claims(conn, claims):
        got = conn.execute("select caterking_private.caller_device() as d").fetchone()["d"]
    assert recorded_device(claims["app_metadata"], email) == got


@pytest.mark.parametrize(
    ("meta", "email", "expected"),
    [
        ({"device_name": "pass-1"}, "wall@k.example", "pass-1"),
        ({"device_name": "  "}, "wall@k.example", "wall"),
        ({"device_name": 7}, "wall@k.example", "wall"),
        ({}, None, None),
        ({"device_name": "a\x1b[2Jb\u0085c"}, None, "a[2Jbc"),
        ({"device_name": " " + "n" * 70}, None, "n" * 64),
    ],
)
def test_recorded_device_examples(
    conn: Any, k: Kitchen, meta: dict[str, Any], email: str | None, expected: Any
) -> None:
    assert recorded_device(meta, email) == expected
    claims = display(k, **meta)
    if email is not None:
        claims["email"] = email
    with as_claims(conn, claims):
        got = conn.execute("select caterking_private.caller_device() as d").fetchone()["d"]
    assert got == expected
