"""Server text is made safe for a terminal: no escape sequence or control byte survives."""

from __future__ import annotations

import pytest

from caterking_display.domain.task import Staff, Task
from caterking_display.domain.text import printable

CASES = [
    ("Dice\x1b]2;PWNED\x07 onions", "Dice onions"),  # OSC 2: window title
    ("a\x1b]52;c;ZWNobyBwd25lZA==\x07b", "ab"),  # OSC 52: clipboard
    ("a\x1b]52;c;ZWNo\x1b\\b", "ab"),  # … terminated by ST
    ("x\x1b[2J\x1b[Hy", "xy"),  # CSI: clear screen, home
    ("\x9b2Jok", "ok"),  # 8-bit CSI
    ("go\u202eod", "good"),  # bidi override
    ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # OSC 8 hyperlink
    ("bell\x07 and nul\x00", "bell and nul"),
    ("tab\there", "tab here"),
    ("Crème brûlée — 12 × 🍮", "Crème brûlée — 12 × 🍮"),  # real text is untouched
]


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_escape_sequences_and_controls_are_removed(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_newlines_are_kept_only_where_asked() -> None:
    assert printable("1. peel\n2. dice") == "1. peel 2. dice"
    assert printable("1. peel\n2. dice\x1b[2J", keep_newlines=True) == "1. peel\n2. dice"


def test_rows_from_the_server_are_made_safe_when_read() -> None:
    row = {
        "id": "00000000-0000-4000-8000-000000000001",
        "tenant_id": "00000000-0000-4000-8000-000000000002",
        "kitchen_id": "00000000-0000-4000-8000-000000000003",
        "title": "Dice\x1b[31m onions",
        "station": "Veg\x07",
        "unit": "kg\x1b]2;x\x07",
        "notes": "no garlic\x1b]52;c;eA==\x07\nlabel it",
        "claimed_device": "pass\x1b[2J",
        "status": "pending",
        "version": 1,
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
    }
    t = Task.from_row(row)
    assert (t.title, t.station, t.unit, t.claimed_device) == ("Dice onions", "Veg", "kg", "pass")
    assert t.notes == "no garlic\nlabel it"
    s = Staff.from_row({**row, "display_name": "Sam\x1b]2;x\x07", "initials": "S\x07"})
    assert (s.display_name, s.initials) == ("Sam", "S")
