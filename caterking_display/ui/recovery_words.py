"""Plain words for a damaged board file's recovery report (pure; the store gives facts)."""

from __future__ import annotations

from caterking_display.store import DamageCause, StoreRecovery


def _actions(n: int) -> str:
    return f"{n} unsent action{'s' if n != 1 else ''}"


def recovery_words(r: StoreRecovery) -> str:
    """ "Board file was damaged: 5 unsent actions recovered, 0 lost." and what to do."""
    what = (
        "Board file was from a newer version of this app"
        if r.cause is DamageCause.NEWER_VERSION
        else "Board file was damaged"
    )
    if r.ops_lost is not None:
        outcome = f"{_actions(r.ops_recovered)} recovered, {r.ops_lost} lost"
    elif r.ops_lost_at_most:
        outcome = (
            f"{_actions(r.ops_recovered)} recovered; up to {r.ops_lost_at_most} could not be"
            " read: check the board"
        )
    else:
        outcome = f"{_actions(r.ops_recovered)} recovered; some may be lost: check the board"
    parts = [f"{what}: {outcome}."]
    if r.ops_recovered:
        parts.append("They will be sent as usual.")
    if r.in_memory:
        parts.append("The new file could not be written: keep this display on until they are sent.")
    return " ".join(parts)
