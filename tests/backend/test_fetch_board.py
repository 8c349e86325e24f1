"""The board fetch over real REST: open tasks and recent history, paged, nothing else."""

from __future__ import annotations

from caterking_display.backend import SupabaseBackend
from caterking_display.backend import supabase_backend as sb
from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect
from tests.stack import create_display


async def test_fetch_has_open_and_recent_tasks_and_pages(
    stack: LocalStack, kitchen: Kitchen, monkeypatch: object
) -> None:
    with connect(stack.db_dsn) as conn:
        open_ids = {add_task(conn, kitchen, title=f"Open {i}") for i in range(5)}
        recent = add_task(conn, kitchen, title="Done just now")
        old = add_task(conn, kitchen, title="Done last week")
        conn.execute(
            "update tasks set status = 'done', completed_by = %s, completed_at = now() "
            "where id in (%s, %s)",
            (kitchen.staff[0], recent, old),
        )
        # History older than the board shows (the trigger keeps updated_at honest, so
        # step around it as an old row would simply be).
        conn.execute("alter table tasks disable trigger tasks_versioning")
        conn.execute(
            "update tasks set updated_at = now() - interval '7 days' where id = %s", (old,)
        )
        conn.execute("alter table tasks enable trigger tasks_versioning")
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    monkeypatch.setattr(sb, "PAGE_ROWS", 2)  # type: ignore[attr-defined]
    backend = SupabaseBackend(stack.url, stack.anon_key)
    try:
        backend.set_session(await backend.sign_in(dev.email, dev.password))
        snap = await backend.fetch_board(kitchen.kitchen_id)
    finally:
        await backend.aclose()
    ids = [t["id"] for t in snap.tasks]
    assert len(ids) == len(set(ids))  # paging neither repeats nor skips
    assert set(ids) == open_ids | {recent}
    assert snap.kitchen is not None and snap.kitchen["name"] == "Main"
    assert len(snap.staff) == 3
