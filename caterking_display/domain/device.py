"""The name the server records for a display's actions.

A display's actions are recorded (``tasks.claimed_device``, the ledger's ``device``)
under the name of the account that made them, never a name the caller sends: the
account's ``app_metadata.device_name`` if it is text, else the part of its email
before the first ``@``; control characters removed, spaces trimmed, at most 64
characters. The board must use the same name to know its own claims from another
board's, so this mirrors the database's ``caterking_private.caller_device()`` rule for
rule (a test runs both on the same inputs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_DEVICE_CHARS = 64
# PostgreSQL's [[:cntrl:]] in a UTF-8 database: C0 controls, DEL and the C1 block.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_device(name: str) -> str | None:
    """``caterking_private.clean_device``: no controls, trimmed, ≤ 64 chars, or None."""
    cleaned = _CONTROL.sub("", name).strip(" ")[:MAX_DEVICE_CHARS]
    return cleaned or None


def recorded_device(app_metadata: Mapping[str, Any], email: str | None) -> str | None:
    """The device name the server records for this account's actions (None: none)."""
    name = app_metadata.get("device_name")
    recorded = clean_device(name) if isinstance(name, str) else None
    if recorded is None and isinstance(email, str):
        recorded = clean_device(email.split("@", 1)[0])
    return recorded
