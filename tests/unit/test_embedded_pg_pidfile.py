"""A stale postmaster.pid never stops someone else's server. Seen once in a loaded full
run: a worker's PostgreSQL shut down mid-suite ("server closed the connection
unexpectedly", then connection refused). PIDs are reused (32,768 here), so the pid file
of a killed server can name any process, even another data dir's postmaster — which a
"stop the server left on this data dir" then shut down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from caterking_server.embedded_pg import EmbeddedPostgres


def test_a_pid_file_naming_another_process_is_stale(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg")
    pg.pgdata.mkdir(parents=True)
    (pg.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pg.pgdata}\n")  # alive, not PG
    assert pg.running_pid() is None
    pg.stop()  # nothing to stop: and nothing else is signalled
    assert os.getpid()  # (still here)


def test_another_data_dirs_postmaster_is_not_ours(
    tmp_path: Path, pg_server: EmbeddedPostgres
) -> None:
    theirs = pg_server.running_pid()
    assert theirs is not None  # the suite's own server is recognised as its own
    pg = EmbeddedPostgres(tmp_path / "pg")
    pg.pgdata.mkdir(parents=True)
    (pg.pgdata / "postmaster.pid").write_text(f"{theirs}\n{pg.pgdata}\n")
    assert pg.running_pid() is None
    pg.stop()
    assert pg_server.running_pid() == theirs  # untouched
    done = subprocess.run(
        [sys.executable, "-c", "import psycopg, sys; psycopg.connect(sys.argv[1]).close()",
         pg_server.dsn],
        timeout=30,
    )  # fmt: skip
    assert done.returncode == 0
