"""What a station tablet costs the host, and how fast a tap shows on another board.

Starts `caterking-server serve` (temp data dir) and `caterking-display web`, opens N
browser tabs in Debian's chromium (Playwright), signs each in as its own display, then:

- memory: PSS of each tab's board process (its whole process tree) on the host;
- idle CPU: those processes' CPU over an idle window, per tab, in % of one core;
- latency: a tap that claims a task (▶ Claim, then the chef's key) or completes it
  (✓ Done) in the first tab → the change in a sync engine's store (another board), p50/p99.

usage: python bench/tablet.py [--tabs 3] [--taps 40] [--idle 10] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from bench.e2e_latency import Stack, close, engine, pct, until  # noqa: E402
from caterking_display.domain.sync_status import ConnectionState  # noqa: E402
from tests.browser.test_tablet import CHROMIUM, CHROMIUM_ARGS, Tablet  # noqa: E402
from tests.faultproxy import free_port  # noqa: E402
from tests.stack import Device  # noqa: E402


def display(stack: Stack, tenant: str, kitchen: str) -> Device:
    email, pw = f"tablet-{uuid.uuid4().hex[:6]}@bench.local", uuid.uuid4().hex
    r = httpx.post(
        f"{stack.url}/auth/v1/admin/users",
        headers={"apikey": stack.service, "Authorization": f"Bearer {stack.service}"},
        json={"email": email, "password": pw, "email_confirm": True,
              "app_metadata": {"tenant_id": tenant, "kitchen_id": kitchen,
                               "device_kind": "display"}},
    )  # fmt: skip
    r.raise_for_status()
    return Device(email, pw)


def sessions(web: psutil.Process) -> list[psutil.Process]:
    """The board processes textual-serve started (one per tab)."""
    out = []
    for p in web.children(recursive=True):
        try:
            # textual-serve starts a shell that starts the board: count the board.
            if "--web-session" in " ".join(p.cmdline()) and p.name() not in ("sh", "bash"):
                out.append(p)
        except psutil.Error:
            pass
    return out


def pss_mib(p: psutil.Process) -> float:
    total = 0
    for q in [p, *p.children(recursive=True)]:
        try:
            total += q.memory_full_info().pss
        except psutil.Error:
            pass
    return total / 2**20


async def run(tabs: int, taps: int, idle: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp) / "stack")
        await stack.start()
        port = free_port()
        env = {**os.environ, "SUPABASE_URL": stack.url, "SUPABASE_ANON_KEY": stack.anon,
               "CATERKING_DATA_DIR": str(Path(tmp) / "host")}  # fmt: skip
        web = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [sys.executable, "-m", "caterking_display.cli", "web", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            tenant, kitchen, staff = (str(uuid.uuid4()) for _ in range(3))
            with psycopg.connect(stack.db, autocommit=True) as c:
                c.execute("insert into tenants (id, name) values (%s, 'Bench')", (tenant,))
                c.execute("insert into kitchens (id, tenant_id, name) values (%s, %s, 'K')",
                          (kitchen, tenant))  # fmt: skip
                c.execute("insert into staff (id, tenant_id, kitchen_id, display_name, initials)"
                          " values (%s, %s, %s, 'Chef', 'CH')", (staff, tenant, kitchen))  # fmt: skip
                task = c.execute("insert into tasks (tenant_id, kitchen_id, title, station)"
                                 " values (%s, %s, 'Dice onions', 'Veg') returning id",
                                 (tenant, kitchen)).fetchone()[0]  # type: ignore[index]  # fmt: skip
            task = str(task)
            watcher_dev = display(stack, tenant, kitchen)
            watcher = engine(stack.url, stack.anon, watcher_dev.email, watcher_dev.password, "w")
            await until(lambda: watcher.status.state is ConnectionState.LIVE, 60)
            async with httpx.AsyncClient() as c:
                for _ in range(300):
                    try:
                        if (await c.get(url, timeout=1)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.1)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages: list[Tablet] = []
                for _ in range(tabs):
                    dev = display(stack, tenant, kitchen)
                    t = Tablet(await browser.new_page(viewport={"width": 1280, "height": 800}))
                    await t.open(url)
                    data = Path(tmp) / "host"
                    from caterking_display.app_main import tablet_data_dir

                    await t.sign_in(dev, tablet_data_dir(data, dev.email))
                    pages.append(t)
                await until(lambda: watcher.status.devices_online >= tabs + 1, 60)
                proc = psutil.Process(web.pid)
                procs = sessions(proc)
                mem = [pss_mib(p) for p in procs]
                for p in procs:
                    p.cpu_percent(None)
                await asyncio.sleep(idle)  # an idle kitchen: nothing happens
                cpu = [p.cpu_percent(None) for p in procs]
                first = pages[0]
                samples: list[float] = []
                for _ in range(taps):
                    cur = watcher.store.confirmed(task)
                    assert cur is not None
                    if cur.status.value == "pending":
                        await first.tap(first.column_right(0) - 3, 5)
                        await asyncio.sleep(0.3)  # the picker opens
                        t0 = time.perf_counter()
                        await first.page.keyboard.press("1")
                        want = "claimed"
                    else:
                        t0 = time.perf_counter()
                        await first.tap(first.column_right(1) - 3, 5)
                        want = "done"
                    await until(
                        lambda w=want: (
                            (v := watcher.store.confirmed(task)) is not None and v.status.value == w
                        ),
                        20,
                    )
                    samples.append(time.perf_counter() - t0)
                    if want == "done":  # put it back for the next round (service role)
                        with psycopg.connect(stack.db, autocommit=True) as c:
                            c.execute(
                                "update tasks set status='pending', claimed_by=null,"
                                " claimed_at=null, claimed_device=null, completed_by=null,"
                                " completed_at=null where id = %s",
                                (task,),
                            )
                        await until(
                            lambda: (
                                (v := watcher.store.confirmed(task)) is not None
                                and v.status.value == "pending"
                            ),
                            20,
                        )
                        # The tablet ignores taps on a card another device just changed.
                        await asyncio.sleep(3.5)
                await browser.close()
            print(f"tabs: {tabs}; per tab on the host: PSS "
                  f"{min(mem):.1f}–{max(mem):.1f} MiB (mean {sum(mem) / len(mem):.1f}),"
                  f" idle CPU {min(cpu):.2f}–{max(cpu):.2f} % of a core over {idle:.0f} s")  # fmt: skip
            print(f"tap → change on another board, {len(samples)} taps:"
                  f" p50 {pct(samples, 50):.0f} ms, p99 {pct(samples, 99):.0f} ms,"
                  f" max {max(samples) * 1000:.0f} ms")  # fmt: skip
            await close([watcher])
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(15)
            stack.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tabs", type=int, default=3)
    p.add_argument("--taps", type=int, default=40)
    p.add_argument("--idle", type=float, default=10.0)
    p.add_argument("--smoke", action="store_true", help="1 tab, 2 taps, 2 s idle")
    a = p.parse_args()
    if a.smoke:
        a.tabs, a.taps, a.idle = 1, 2, 2.0
    asyncio.run(run(a.tabs, a.taps, a.idle))


if __name__ == "__main__":
    main()
