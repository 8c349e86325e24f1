"""A task's details: the whole title and notes, allergens in full words, who and when.

Opened by a second tap on a card or by `i`. Its buttons run the same steps as the board's
keys (with the same checks and questions); Close has the focus, so a stray Enter only
closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from caterking_display.domain.board import ViewTask
from caterking_display.domain.estimates import Basis, TaskEstimate
from caterking_display.domain.task import ALLERGEN_LABELS, Priority, Staff, Status
from caterking_display.ui.card_facts import fmt_estimate, fmt_minutes, fmt_quantity

_PRIORITY = {Priority.RUSH: "RUSH", Priority.HIGH: "High", Priority.NORMAL: "Normal"}
_STATUS = {
    Status.PENDING: "Waiting (To do)",
    Status.CLAIMED: "In progress",
    Status.DONE: "Done",
    Status.CANCELLED: "Cancelled",
}


def basis_words(est: TaskEstimate | None, kind: str | None) -> str:
    """What an estimate is based on, as a head chef would ask: "from 12 × dice onion"."""
    if est is None:
        return "no history yet"
    if est.basis is Basis.EXACT:
        return f"from {est.samples} × {kind or 'this task'}"
    if est.basis is Basis.SIMILAR and est.similar_to:
        return "like " + ", ".join(est.similar_to[:3])
    if est.basis is Basis.STATION:
        return "station average"
    return "no history yet"


def detail_table(
    vt: ViewTask,
    now: datetime,
    tz: tzinfo | None,
    name: Callable[[str | None], str],
    est: TaskEstimate | None = None,
) -> Table:
    t = vt.task
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value")

    def hm(at: datetime) -> str:
        return f"{at.astimezone(tz):%H:%M}"

    def ago(at: datetime) -> str:
        minutes = max(0, int((now - at).total_seconds() // 60))
        return f"{fmt_minutes(minutes)} ago" if minutes else "just now"

    if t.allergens:
        words = " · ".join(ALLERGEN_LABELS.get(a, a).upper() for a in t.allergens)
        # The cards' allergen colour: used for nothing else on the board.
        table.add_row("Allergens", Text(f" ⚠ {words} ", "bold #000000 on #D946EF"))
    qty = fmt_quantity(t.quantity, t.unit)
    table.add_row("Quantity", qty or "—")
    table.add_row("Station", t.station or "—")
    table.add_row("Priority", _PRIORITY.get(t.priority, str(int(t.priority))))
    if t.due_at is not None:
        left = int((t.due_at - now).total_seconds() // 60)
        when = f"in {fmt_minutes(left)}" if left >= 0 else f"{fmt_minutes(-left)} late"
        table.add_row("Due", f"{hm(t.due_at)} ({when})")
    if t.status in (Status.PENDING, Status.CLAIMED):
        if est is not None:
            p50 = fmt_estimate(est.p50.total_seconds() / 60)
            p90 = fmt_estimate(est.p90.total_seconds() / 60).removeprefix("≈ ")
            line = f"{p50} (9 times in 10 within {p90})"
            start = est.start_by(t)
            if start is not None and t.status is Status.PENDING:
                line += f" · start by {hm(start)}"
            if est.running_long(t, now):
                line += " · running long"
            table.add_row("Estimate", line)
        table.add_row("Based on", basis_words(est, t.kind))
    status = _STATUS.get(t.status, t.status.value)
    if vt.pending:
        status += " — this board's change is waiting to sync"
    table.add_row("Status", status)
    if t.claimed_by is not None and t.status is not Status.PENDING:
        where = f" on {t.claimed_device}" if t.claimed_device else ""
        since = f", {hm(t.claimed_at)} ({ago(t.claimed_at)})" if t.claimed_at else ""
        table.add_row("Claimed by", f"{name(t.claimed_by)}{where}{since}")
    if t.status is Status.DONE and t.completed_at is not None:
        table.add_row("Done by", f"{name(t.completed_by)}, {hm(t.completed_at)}")
    table.add_row("Notes", t.notes.strip() or "—")
    return table


class TaskDetailScreen(ModalScreen[str | None]):
    """Dismisses with "next", "release", "recall", "batch" or None (closed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,i,q", "close", "Close", id="detail_close"),
        Binding("left,right,h,l", "app.focus_next", show=False),
    ]

    def __init__(
        self,
        vt: ViewTask,
        staff: Mapping[str, Staff],
        now: datetime,
        tz: tzinfo | None,
        name: Callable[[str | None], str],
        est: TaskEstimate | None = None,
        similar: int = 0,
    ) -> None:
        super().__init__()
        self.vt = vt
        self.est = est
        self.similar = similar
        self.staff = staff
        self.now = now
        self.tz = tz
        self.name_of = name

    def compose(self) -> ComposeResult:
        t = self.vt.task
        with Vertical(id="detail-dialog", classes="dialog"):
            yield Static(t.title, classes="dialog-title", markup=False)
            with VerticalScroll(id="detail-body", can_focus=False):
                yield Static(detail_table(self.vt, self.now, self.tz, self.name_of, self.est))
            with Horizontal(id="detail-buttons"):
                yield Button("Close (Esc)", id="detail-close")
                if t.status is Status.PENDING:
                    yield Button("▶ Claim", id="detail-next", variant="primary")
                    if self.similar:
                        label = f"▶ Claim with {self.similar} similar (b)"
                        yield Button(label, id="detail-batch", variant="primary")
                elif t.status is Status.CLAIMED:
                    yield Button("✓ Done", id="detail-next", variant="success")
                    yield Button("Release", id="detail-release")
                elif t.status is Status.DONE:
                    yield Button("Put back…", id="detail-recall")

    def on_mount(self) -> None:
        self.query_one("#detail-close", Button).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        step = (event.button.id or "").removeprefix("detail-")
        self.dismiss(step if step in ("next", "release", "recall", "batch") else None)
