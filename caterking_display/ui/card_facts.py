"""Pure board logic for the UI: which column a task is in, its order, and what its card says.

No Textual here, so it is cheap to test and the card widget only compares values: a card
repaints when its `CardFacts` change, not on every tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum

from caterking_display.domain.board import ViewTask
from caterking_display.domain.task import Priority, Staff, Status

_FAR = datetime.max.replace(tzinfo=None)


class ColumnId(StrEnum):
    TODO = "todo"
    DOING = "doing"
    DONE = "done"


COLUMN_TITLES: dict[ColumnId, str] = {
    ColumnId.TODO: "To do",
    ColumnId.DOING: "In progress",
    ColumnId.DONE: "Done",
}


class Urgency(StrEnum):
    NONE = ""
    SOON = "soon"
    LATE = "late"


def finished_at(vt: ViewTask) -> datetime:
    t = vt.task
    return t.completed_at or t.updated_at


def column_of(vt: ViewTask, now: datetime, done_recent: timedelta) -> ColumnId | None:
    """The column a task shows in, or None when it is not on the board."""
    status = vt.task.status
    if status is Status.PENDING:
        return ColumnId.TODO
    if status is Status.CLAIMED:
        return ColumnId.DOING
    if status is Status.DONE:
        # Pending local changes stay visible so a chef sees their own bump.
        if vt.pending or now - finished_at(vt) <= done_recent:
            return ColumnId.DONE
    return None


SortKey = tuple[int, int, float, float, str]


def sort_key(vt: ViewTask, column: ColumnId) -> SortKey:
    """Rush first, then due time (none last), then created; Done shows newest first."""
    t = vt.task
    if column is ColumnId.DONE:
        return (0, 0, -finished_at(vt).timestamp(), 0.0, t.id)
    rush = 0 if t.priority is Priority.RUSH else 1
    due = t.due_at.timestamp() if t.due_at else math.inf
    return (rush, 1 if t.due_at is None else 0, due, t.created_at.timestamp(), t.id)


def fmt_minutes(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}"


def fmt_quantity(q: Decimal | None, unit: str | None) -> str:
    if q is None:
        return unit or ""
    text = format(q.normalize(), "f") if q == q.to_integral_value() else format(q, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {unit}" if unit else text


@dataclass(frozen=True, slots=True)
class CardFacts:
    """Everything a card shows, as plain values: equal facts mean an identical card."""

    title: str
    badge: str  # "RUSH", "HIGH" or ""
    quantity: str  # "12 kg"
    station: str  # "Veg"
    due_clock: str  # "14:30" / "done 14:02" / ""
    countdown: str  # "in 8m" / "3m late" / "by Ana"
    urgency: Urgency
    who: str
    who_short: str
    since: str
    syncing: bool
    status: Status


def card_facts(
    vt: ViewTask,
    staff: dict[str, Staff],
    now: datetime,
    *,
    due_soon: timedelta,
    tz: tzinfo | None,
) -> CardFacts:
    t = vt.task
    badge = ""
    if t.status is not Status.DONE:  # once done, urgency no longer matters
        badge = {Priority.RUSH: "RUSH", Priority.HIGH: "HIGH"}.get(t.priority, "")
    due_clock = countdown = who = who_short = since = ""
    urgency = Urgency.NONE

    def person(staff_id: str | None) -> tuple[str, str]:
        if staff_id is None:
            return "", ""
        s = staff.get(staff_id)
        return (s.display_name, s.initials) if s else ("someone", "?")

    if t.status is Status.DONE:
        done = finished_at(vt)
        due_clock = f"done {done.astimezone(tz):%H:%M}"
        name, _ = person(t.completed_by or t.claimed_by)
        countdown = f"by {name}" if name else ""
    else:
        if t.due_at is not None:
            due_clock = f"due {t.due_at.astimezone(tz):%H:%M}"
            left = (t.due_at - now).total_seconds()
            if left >= 0:
                countdown = f"in {fmt_minutes(math.ceil(left / 60))}"
                if left <= due_soon.total_seconds():
                    urgency = Urgency.SOON
            else:
                late = math.floor(-left / 60)
                countdown = "due now" if late == 0 else f"{fmt_minutes(late)} late"
                urgency = Urgency.LATE
        if t.status is Status.CLAIMED:
            who, who_short = person(t.claimed_by)
            if t.claimed_at is not None:
                held = max(0, math.floor((now - t.claimed_at).total_seconds() / 60))
                since = fmt_minutes(held) if held else "<1m"
    return CardFacts(
        title=t.title,
        badge=badge,
        quantity=fmt_quantity(t.quantity, t.unit),
        station=t.station,
        due_clock=due_clock,
        countdown=countdown,
        urgency=urgency,
        who=who,
        who_short=who_short,
        since=since,
        syncing=vt.pending,
        status=t.status,
    )


def fit_detail(quantity: str, station: str, room: int) -> str:
    """ "12 kg · Veg" in at most `room` cells: tighten the spacing ("12kg·Veg"), then
    shorten the quantity's unit (keeping its number and the station whole), then cut."""
    parts = [p for p in (quantity, station) if p]
    tight = [quantity.replace(" ", ""), station] if quantity and station else parts
    for sep, words in ((" · ", parts), ("·", parts), ("·", tight)):
        text = sep.join(words)
        if len(text) <= room:
            return text
    if room <= 0:
        return ""
    if len(parts) == 2:
        number = quantity.split(" ", 1)[0]
        keep = room - len(station) - 1  # cells left for the quantity
        if keep >= len(number) + 1:
            return f"{tight[0][: keep - 1]}…·{station}"
    return "·".join(parts)[: room - 1].rstrip() + "…"


def next_change(vt: ViewTask, now: datetime) -> datetime:
    """The next instant this card's text or column can change with time alone.

    Countdowns show whole minutes measured from the task's own timestamps, so the text
    changes only when `now - t` crosses a whole minute for one of them.
    """
    t = vt.task
    stamps = [s for s in (t.due_at, t.claimed_at, finished_at(vt)) if s is not None]
    if t.status is Status.DONE:
        stamps = [finished_at(vt)]
    best = 60.0
    for s in stamps:
        offset = (now - s).total_seconds() % 60
        wait = 60 - offset if offset > 0 else 60.0
        best = min(best, wait)
    return now + timedelta(seconds=best)


@dataclass(slots=True)
class CardState:
    """The app's record of one task on the board (data only; cards are bound to it)."""

    vt: ViewTask
    facts: CardFacts
    column: ColumnId
    key: SortKey
    next_change_at: datetime

    @property
    def task_id(self) -> str:
        return self.vt.task.id
