"""The setup checks in plain words (pure): what is fine, and what to fix."""

from __future__ import annotations

from caterking_display.domain.setup import Step, StepResult
from caterking_display.ui.status_text import SIGN_IN_WORDS

_WORDS: dict[tuple[Step, str], str] = {
    (Step.SERVER, "bad_url"): "Server address: type it like https://xyz.supabase.co"
    " or http://192.168.1.20:54321",
    (Step.SERVER, "no_key"): "Server key missing: paste the project's anon key,"
    " or tap Scan to find the kitchen server",
    (Step.SERVER, "unreachable"): "Cannot reach the server: check the address, and that"
    " this display is on the kitchen's network",
    (Step.SIGN_IN, "missing"): "Type the device account's email and password",
    (Step.KITCHEN, "no_kitchen"): "This account names no kitchen: ask the manager to set"
    " its kitchen (app_metadata.kitchen_id)",
    (Step.KITCHEN, "not_visible"): "This account cannot see its kitchen: ask the manager",
    (Step.KITCHEN, "unreadable"): "Cannot read the kitchen's board: try again in a moment",
    (Step.REALTIME, "join_failed"): "Live updates refused: allow private channels in the"
    " project's Realtime settings (a kitchen server allows them)",
}

_OK: dict[Step, str] = {
    Step.SERVER: "Server reachable",
    Step.SIGN_IN: "Signed in",
    Step.KITCHEN: "Kitchen found",
    Step.REALTIME: "Live updates work",
    Step.STATION: "Station found",
}

_LABEL: dict[Step, str] = {
    Step.SERVER: "Server",
    Step.SIGN_IN: "Sign-in",
    Step.KITCHEN: "Kitchen",
    Step.REALTIME: "Live updates",
    Step.STATION: "Station",
}

REQUIRED: frozenset[Step] = frozenset({Step.SERVER, Step.SIGN_IN, Step.KITCHEN, Step.REALTIME})
"""Steps that must pass before the setup can be saved (a station is optional)."""


def step_words(r: StepResult) -> tuple[str, str]:
    """(mark, sentence): ✓ fine, ✗ to fix, · not checked yet, ! a warning."""
    if r.ok is None:
        if r.step is Step.STATION and r.code == "all":
            seen = f" (stations on the board: {r.detail})" if r.detail else ""
            return "·", f"All stations{seen}; type one to start filtered"
        if r.code == "missing":
            return "·", _WORDS[(Step.SIGN_IN, "missing")]
        return "·", f"{_LABEL[r.step]}: not checked yet"
    if r.ok:
        text = _OK[r.step]
        return "✓", f"{text}: {r.detail}" if r.detail else text
    if r.step is Step.SIGN_IN:
        return "✗", "Sign-in refused: " + SIGN_IN_WORDS.get(
            r.code.casefold(), "check the device email and password"
        )
    if r.step is Step.STATION:
        seen = r.detail or "none yet"
        return "!", f"No task at that station yet (stations on the board: {seen})"
    return "✗", _WORDS.get((r.step, r.code), f"{_LABEL[r.step]}: failed ({r.code})")


def ready(results: list[StepResult]) -> bool:
    """Every required step passed."""
    passed = {r.step for r in results if r.ok}
    return REQUIRED <= passed
