"""The store stays headless: no Textual, Rich or network client behind it."""

from __future__ import annotations

import subprocess
import sys


def test_store_imports_no_ui_or_network() -> None:
    code = (
        "import sys, caterking_display.store as s\n"
        "assert s.BoardStore\n"
        "bad = sorted(m for m in ('textual', 'rich', 'supabase', 'httpx', 'realtime')"
        " if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"store pulled in: {out.stdout.strip()}"
