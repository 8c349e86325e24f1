"""A tablet's sign-in, remembered so it can open its saved board during an outage.

After the server has accepted a tablet's account once, the host keeps a salted scrypt
hash of its password in that account's own data dir (0600). When the server cannot be
reached, the same email and password open that account's saved board and its waiting
actions (nothing else: the hash proves only that whoever types it knew the password
the server last accepted). The board keeps trying to sign in for real, and works
exactly as before once it can. A wrong password offline is refused like a wrong
password online.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

FILE = "credential.json"
# scrypt's interactive-login cost (about 50 ms and 16 MiB on a Raspberry Pi 4).
N, R, P = 2**14, 8, 1


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 2**20)


def remember(data_dir: Path, password: str) -> None:
    """Keep a hash of the password the server just accepted (replacing an older one)."""
    salt = secrets.token_bytes(16)
    doc = {"n": N, "r": R, "p": P, "salt": salt.hex(), "hash": _hash(password, salt, N, R, P).hex()}
    tmp = data_dir / (FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(data_dir / FILE)


def matches(data_dir: Path, password: str) -> bool:
    """True when ``password`` is the one the server last accepted for this account;
    False for anything else, including no or an unreadable record."""
    try:
        doc = json.loads((data_dir / FILE).read_text())
        n, r, p = int(doc["n"]), int(doc["r"]), int(doc["p"])
        salt, want = bytes.fromhex(doc["salt"]), bytes.fromhex(doc["hash"])
        if not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 4):
            return False  # not a record this app wrote: never spend minutes on it
        return hmac.compare_digest(_hash(password, salt, n, r, p), want)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def forget(data_dir: Path) -> None:
    """The server refused this password: it no longer opens anything offline."""
    with contextlib.suppress(FileNotFoundError):
        (data_dir / FILE).unlink()
