"""The kitchen server in one object: Postgres + `/auth/v1` + `/rest/v1` + Realtime, and
`/kitchen/v1/setup` for displays that look for it.

Usable from the CLI (`serve`) and in-process from tests::

    stack = LocalStack(tmp_path, db_url=...)
    await stack.start()
    ... stack.url, stack.anon_key, stack.service_role_key ...
    await stack.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from caterking_schema.migrate import migrate
from caterking_server import tokens
from caterking_server.auth import AuthService
from caterking_server.db import switchable_roles
from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.gateway import cors_middleware
from caterking_server.ratelimit import AuthLimits
from caterking_server.rest import RestService
from caterking_server.setup_info import PER_IP as SETUP_INFO_PER_IP
from caterking_server.setup_info import SetupInfo, server_name

log = logging.getLogger(__name__)

DB_NAME = "caterking"


class StackInUse(RuntimeError):
    pass


def local_auth_sql() -> str:
    return resources.files("caterking_server.auth").joinpath("local_auth.sql").read_text("utf-8")


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class LocalStack:
    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        db_url: str | None = None,
        jwt_expiry: int = 3600,
        seed: str | None = None,
        auth_limits: AuthLimits | None = None,
        cors_origins: tuple[str, ...] = ("*",),
        name: str | None = None,
        setup_info_per_ip: int = SETUP_INFO_PER_IP,
        broadcast_retention_s: float = 3600.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.broadcast_retention_s = broadcast_retention_s
        self.name = server_name(name)
        self.setup_info_per_ip = setup_info_per_ip
        self.auth_limits = auth_limits or AuthLimits()
        self.cors_origins = cors_origins
        self.host = host
        self.port = port
        self.db_url = db_url
        self.jwt_expiry = jwt_expiry
        self.seed = seed
        self.demo_account: tuple[str, str] | None = None  # (email, password) after --seed demo
        self._pg: EmbeddedPostgres | None = None
        self._pool: AsyncConnectionPool | None = None
        self._runner: web.AppRunner | None = None
        self._lock_fh: Any = None
        self._state: dict[str, Any] = {}
        self._dsn: str | None = None
        self._url: str | None = None
        self._realtime: Any = None
        self.app: web.Application | None = None
        self.auth: AuthService | None = None
        self.setup_info: SetupInfo | None = None

    # -- properties -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._url is not None, "stack not started"
        return self._url

    @property
    def jwt_secret(self) -> str:
        return str(self._state["jwt_secret"])

    @property
    def anon_key(self) -> str:
        return str(self._state["anon_key"])

    @property
    def service_role_key(self) -> str:
        return str(self._state["service_role_key"])

    @property
    def db_dsn(self) -> str:
        """Superuser DSN to the stack's database (migrations, Realtime replication)."""
        assert self._dsn is not None, "stack not started"
        return self._dsn

    @property
    def pool(self) -> AsyncConnectionPool:
        assert self._pool is not None, "stack not started"
        return self._pool

    def env_lines(self) -> list[str]:
        """stack.env: everything a client or an operator needs, secrets included (the
        file is 0600; nothing here is ever printed or logged)."""
        lines = [
            f"SUPABASE_URL={self.url}",
            f"SUPABASE_ANON_KEY={self.anon_key}",
            f"SUPABASE_SERVICE_ROLE_KEY={self.service_role_key}",
            f"CATERKING_DB_URL={self.db_dsn}",
        ]
        if self.demo_account is not None:
            email, password = self.demo_account
            lines += [f"DEMO_DISPLAY_EMAIL={email}", f"DEMO_DISPLAY_PASSWORD={password}"]
        return lines

    # -- data dir -------------------------------------------------------------------------

    def _secure_data_dir(self) -> None:
        """The data dir is this user's only (0700). When the embedded Postgres runs as
        another user (the stack started as root), that user must still reach pg/ inside
        it: then traverse-only for others (0711), never listable or readable."""
        from caterking_server.embedded_pg import runs_as_other_user

        mode = 0o711 if self.db_url is None and runs_as_other_user() else 0o700
        os.chmod(self.data_dir, mode)

    def _acquire_lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.data_dir / "stack.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fh = os.fdopen(fd, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise StackInUse(
                f"data dir {self.data_dir} is in use by another caterking-server serve (pid {pid})"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_fh = fh
        self._secure_data_dir()  # ours now (another serve's Postgres may need it as it is)

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            with contextlib.suppress(OSError):
                self._lock_fh.seek(0)
                self._lock_fh.truncate()
                fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    @property
    def _state_path(self) -> Path:
        return self.data_dir / "stack.json"

    def _load_state(self) -> None:
        state: dict[str, Any] = {}
        if self._state_path.exists():
            try:
                state = json.loads(self._state_path.read_text())
            except (OSError, ValueError):
                log.warning("stack.json unreadable: new keys will be generated")
                state = {}
        changed = False
        if not state.get("jwt_secret"):
            state["jwt_secret"] = tokens.new_secret()
            state.pop("anon_key", None)
            state.pop("service_role_key", None)
            changed = True
        for role, key in (("anon", "anon_key"), ("service_role", "service_role_key")):
            if not state.get(key):
                state[key] = tokens.api_key(role, state["jwt_secret"])
                changed = True
        self._state = state
        if changed:
            self._save_state()

    def _save_state(self) -> None:
        _write_private(self._state_path, json.dumps(self._state, indent=2) + "\n")

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._acquire_lock()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self._load_state()
        if self.db_url:
            dsn = self.db_url
        else:
            self._pg = EmbeddedPostgres(self.data_dir / "pg")
            await asyncio.to_thread(self._pg.start)
            self._secure_data_dir()  # starting it may have opened the dir's mode
            await asyncio.to_thread(self._ensure_database)
            dsn = self._pg.url(DB_NAME)
        self._dsn = dsn
        await asyncio.to_thread(self._migrate, dsn)
        self._pool = AsyncConnectionPool(
            dsn,
            min_size=2,
            max_size=20,
            kwargs={"autocommit": True, "application_name": "caterking-localstack"},
            timeout=10,
            # A connection broken by a Postgres restart is replaced, not handed out.
            check=AsyncConnectionPool.check_connection,
            open=False,
        )
        await self._pool.open(wait=True, timeout=30)
        roles = await switchable_roles(self._pool)

        self.app = web.Application(
            client_max_size=16 * 1024 * 1024, middlewares=[cors_middleware(self.cors_origins)]
        )
        auth = AuthService(self._pool, self.jwt_secret, self.jwt_expiry, limits=self.auth_limits)
        self.auth = auth
        self.app.add_subapp("/auth/v1", auth.app())
        self.app.add_subapp("/rest/v1", RestService(self._pool, self.jwt_secret, roles).app())
        self.setup_info = SetupInfo(
            self.anon_key, self.name, self.host, per_ip=self.setup_info_per_ip
        )
        self.app.add_subapp("/kitchen/v1", self.setup_info.app())

        realtime_service: Any
        try:
            from caterking_server.realtime import RealtimeService

            realtime_service = RealtimeService
        except ImportError:
            realtime_service = None
        if realtime_service is not None:
            rt = realtime_service(
                db_dsn=dsn,
                jwt_secret=self.jwt_secret,
                pool=self._pool,
                message_retention_s=self.broadcast_retention_s,
            )
            await rt.start()
            self._realtime = rt
            rt.add_routes(self.app)

        if self.seed == "demo":
            from caterking_server import demo_seed

            self.demo_account = await demo_seed.seed_demo(self)

        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        port = self.port
        for addr in self._runner.addresses:
            if isinstance(addr, tuple):
                port = int(addr[1])
                break
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        self._url = f"http://{host}:{port}"
        auth.site_url = self._url
        self.setup_info.url = self._url
        self._write_env()

    def _ensure_database(self) -> None:
        assert self._pg is not None
        with psycopg.connect(self._pg.dsn, autocommit=True) as conn:
            found = conn.execute("select 1 from pg_database where datname = %s", (DB_NAME,))
            if found.fetchone() is None:
                conn.execute(f'create database "{DB_NAME}"')

    @staticmethod
    def _migrate(dsn: str) -> None:
        migrate(dsn, with_base=True)
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('caterking_local_auth'))")
            conn.execute(local_auth_sql().encode())

    def _write_env(self) -> None:
        _write_private(self.data_dir / "stack.env", "\n".join(self.env_lines()) + "\n")

    async def stop(self) -> None:
        if self._realtime is not None:
            with contextlib.suppress(Exception):
                await self._realtime.stop()
            self._realtime = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._pg is not None:
            await asyncio.to_thread(self._pg.stop)
            self._pg = None
        self._release_lock()

    def remember(self, key: str, value: Any) -> None:
        """Persist a value in stack.json (0600)."""
        self._state[key] = value
        self._save_state()

    def recall(self, key: str) -> Any:
        return self._state.get(key)
