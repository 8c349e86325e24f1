"""A tablet's remembered sign-in: the password the server last accepted opens the saved
board offline; nothing else does."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from caterking_display import credentials


def test_the_accepted_password_and_only_it(tmp_path: Path) -> None:
    assert not credentials.matches(tmp_path, "secret")  # nothing remembered yet
    credentials.remember(tmp_path, "secret")
    assert credentials.matches(tmp_path, "secret")
    assert not credentials.matches(tmp_path, "Secret")
    assert not credentials.matches(tmp_path, "")
    record = tmp_path / credentials.FILE
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert "secret" not in record.read_text()  # a salted hash, never the password
    credentials.remember(tmp_path, "changed")  # a new password replaces the old one
    assert credentials.matches(tmp_path, "changed") and not credentials.matches(tmp_path, "secret")
    credentials.forget(tmp_path)
    assert not credentials.matches(tmp_path, "changed")
    credentials.forget(tmp_path)  # forgetting twice is fine


def test_a_damaged_or_foreign_record_opens_nothing(tmp_path: Path) -> None:
    record = tmp_path / credentials.FILE
    for text in ("", "{", "[]", json.dumps({"n": 16384}), "\x00\xff"):
        record.write_text(text)
        assert not credentials.matches(tmp_path, "secret")
    # A record asking for absurd costs is refused before any hashing.
    credentials.remember(tmp_path, "secret")
    doc = json.loads(record.read_text())
    record.write_text(json.dumps({**doc, "n": 2**30}))
    assert not credentials.matches(tmp_path, "secret")
