"""The one registry of board actions: it feeds BINDINGS, the help screen and the keymap.

Each entry has a stable id (the keymap key, e.g. ``{"claim": "c,f1"}``), default keys
(what a bump bar sends), the Textual action it runs and a plain description.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class BoardAction:
    id: str
    keys: str
    action: str
    description: str
    short: str = ""
    """Footer label; empty means not shown in the footer."""
    priority: bool = False


REGISTRY: tuple[BoardAction, ...] = (
    BoardAction("next_step", "enter,space", "next_step", "Next step: claim, then done", "Next"),
    BoardAction("claim", "c", "claim", "Claim the selected task", "Claim"),
    BoardAction("done", "d", "done", "Mark the selected task done", "Done"),
    BoardAction("release", "u", "release", "Release (unclaim) the selected task", "Release"),
    BoardAction(
        "recall", "r", "recall", "Recall: choose a finished task to put back in To do", "Recall"
    ),
    BoardAction("undo", "z,backspace", "undo", "Undo the last action (within 5 s)", "Undo"),
    BoardAction("details", "i", "details", "Details of the selected task: notes, allergens"),
    BoardAction("station", "s", "cycle_station", "Cycle the station filter", "Station"),
    BoardAction("all_day", "a", "all_day", "All-day counts: open quantities by kind", "All-day"),
    BoardAction(
        "batch",
        "b",
        "batch_claim",
        "Claim the selected task and its similar ones (“+2 similar”) for one chef",
    ),
    BoardAction(
        "failed", "f", "failed_actions", "List actions that were not applied", "Not applied"
    ),
    BoardAction("help", "question_mark", "help", "Show this help", "Help"),
    BoardAction("dismiss", "escape", "dismiss", "Close notes over the columns and notices"),
    BoardAction(
        "account", "f2", "account", "Fix the display's server or account (when sign-in fails)"
    ),
    BoardAction("up", "up,k", "move('up')", "Select the task above"),
    BoardAction("down", "down,j", "move('down')", "Select the task below"),
    BoardAction("left", "left,h", "move('left')", "Select in the column to the left"),
    BoardAction("right", "right,l", "move('right')", "Select in the column to the right"),
    BoardAction("page_up", "pageup", "page(-1)", "Page up in the selected column"),
    BoardAction("page_down", "pagedown", "page(1)", "Page down in the selected column"),
    BoardAction("quit", "ctrl+q,ctrl+c", "quit_board", "Quit (not in kiosk mode)", priority=True),
    BoardAction(
        "exit_chord",
        "ctrl+x",
        "exit_board",
        "Quit (kiosk exit chord; press it twice)",
        priority=True,
    ),
)

BY_ID: Mapping[str, BoardAction] = {a.id: a for a in REGISTRY}

DIALOG_KEYS: tuple[tuple[str, str], ...] = (
    ("Esc", "Close a dialog or cancel the picker"),
    ("1–9", "Choose a chef in the picker (0 or PgDn: more chefs)"),
    ("y", "Yes, in a question such as “Mark Sam's task done?”"),
)


def bindings(registry: Iterable[BoardAction] = REGISTRY) -> list[Binding]:
    """Textual bindings with ids, so `App.set_keymap()` can remap them."""
    return [
        Binding(
            a.keys,
            a.action,
            a.short or a.description,
            show=bool(a.short),
            id=a.id,
            priority=a.priority,
            tooltip=a.description,
        )
        for a in registry
    ]


def keys_for(action_id: str, keymap: Mapping[str, str]) -> str:
    """The keys an action is bound to under `keymap`, as a person would write them."""
    raw = keymap.get(action_id, BY_ID[action_id].keys)
    return ", ".join(pretty_key(k.strip()) for k in raw.split(",") if k.strip())


_PRETTY = {
    "question_mark": "?",
    "enter": "Enter",
    "space": "Space",
    "escape": "Esc",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "pageup": "PgUp",
    "pagedown": "PgDn",
}


def pretty_key(key: str) -> str:
    if key in _PRETTY:
        return _PRETTY[key]
    if "+" in key:
        return "+".join(p.capitalize() if len(p) > 1 else p.upper() for p in key.split("+"))
    return key
