"""Apply the SQL migrations in order, each in its own transaction, recording what ran.

The same files run on a hosted Supabase project and on the local stack. The
Supabase base (roles, auth.*, realtime.messages, the publication) is applied only
where asked (`with_base`), for plain PostgreSQL, and only where missing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

LEDGER_SCHEMA = "caterking_migrations"


# Checksums a ledger may hold for a migration whose comments were edited since (the SQL
# is the same): 0001's header once named a document outside this repository.
EARLIER_CHECKSUMS: dict[str, frozenset[str]] = {"0001": frozenset({"30e93570127e50fb"})}


def _sql_only(sql: str) -> str:
    """The statements without whole-line comments: what a checksum should see."""
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """Of the SQL alone, so a comment edit is not a change."""
        return hashlib.sha256(_sql_only(self.sql).encode()).hexdigest()[:16]

    def matches(self, recorded: str) -> bool:
        """Is ``recorded`` (a ledger's checksum, this scheme or the earlier one over the
        whole text) this migration as it is now?"""
        whole = hashlib.sha256(self.sql.encode()).hexdigest()[:16]
        earlier = EARLIER_CHECKSUMS.get(self.version, frozenset())
        return recorded in {self.checksum, whole} | earlier


class MigrationError(RuntimeError):
    pass


def _read(package: str) -> list[Migration]:
    out = []
    for entry in sorted(resources.files(package).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            out.append(Migration(version, rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return out


def migrations() -> list[Migration]:
    return _read("caterking_schema.migrations")


def base_sql() -> str:
    return resources.files("caterking_schema.base").joinpath("supabase_base.sql").read_text("utf-8")


def apply_base(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(base_sql())


def migrate(dsn: str, *, with_base: bool = False, log: list[str] | None = None) -> list[str]:
    """Apply pending migrations; returns the versions applied (empty if none)."""
    say = log.append if log is not None else (lambda _m: None)
    applied: list[str] = []
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise MigrationError(f"cannot connect to the database: {_one_line(exc)}") from exc
    with conn:
        if with_base:
            apply_base(conn)
            say("supabase base: ensured (roles, auth, realtime.messages, publication)")
        # Serialise concurrent migrators.
        conn.execute("select pg_advisory_lock(hashtext('caterking_migrations'))")
        conn.execute(f"create schema if not exists {LEDGER_SCHEMA}")
        conn.execute(
            f"""create table if not exists {LEDGER_SCHEMA}.applied (
                version text primary key, name text not null, checksum text not null,
                applied_at timestamptz not null default now())"""
        )
        done = {
            r[0]: r[1]
            for r in conn.execute(f"select version, checksum from {LEDGER_SCHEMA}.applied")
        }
        for m in migrations():
            if m.version in done:
                if not m.matches(done[m.version]):
                    say(f"warning: migration {m.version}_{m.name} changed since it was applied")
                elif done[m.version] != m.checksum:  # recorded the earlier way: note it anew
                    conn.execute(
                        f"update {LEDGER_SCHEMA}.applied set checksum = %s where version = %s",
                        (m.checksum, m.version),
                    )
                continue
            try:
                with conn.transaction():
                    conn.execute(m.sql.encode())
                    conn.execute(
                        f"insert into {LEDGER_SCHEMA}.applied (version, name, checksum) "
                        "values (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {m.version}_{m.name} failed: {_one_line(exc)}"
                ) from exc
            applied.append(m.version)
            say(f"applied {m.version}_{m.name}")
        conn.execute("select pg_advisory_unlock(hashtext('caterking_migrations'))")
    if not applied:
        say("schema is up to date: nothing to apply")
    return applied


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
