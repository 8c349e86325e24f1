"""Text from the server made safe to show on a terminal (pure; no I/O).

Every string a board shows came from someone else: a task title typed in Admin, a chef's
name, an announcement, an error message. A terminal acts on control characters: an
ESC sequence in a title could set the clipboard (OSC 52), the window title (OSC 2) or
clear the screen (CSI 2J). So control characters are removed before anything is shown,
and so are the invisible characters that reorder text (bidirectional overrides), which
can make a title read differently from what it is.
"""

from __future__ import annotations

import re

# Whole escape sequences first, so their parameters do not linger as text: OSC (ESC ]
# or 0x9D … BEL or ST), DCS/SOS/PM/APC strings, CSI (ESC [ or 0x9B … final byte), and the
# two-character ESC forms.
_SEQUENCES = re.compile(
    r"(?:\x1b\]|\x9d|\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -/]*[0-~]?"
)
# What is left: C0 controls (but tab and newline, handled below), DEL, C1 controls, and
# the Unicode bidirectional embedding/override/isolate marks.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` without escape sequences or control characters; tabs (and newlines,
    unless kept) become spaces."""
    cleaned = _UNSAFE.sub("", _SEQUENCES.sub("", text))
    cleaned = cleaned.replace("\t", " ")
    if not keep_newlines:
        cleaned = cleaned.replace("\n", " ")
    return cleaned
