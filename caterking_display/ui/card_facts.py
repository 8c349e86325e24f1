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
from caterking_display.domain.estimates import TaskEstimate
from caterking_display.domain.task import Priority, Staff, Status
from caterking_display.ui.change_words import UNKNOWN_CHEF

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

_RANK = {Priority.RUSH: 0, Priority.HIGH: 1, Priority.NORMAL: 2}


def sort_key(
    vt: ViewTask, column: ColumnId, now: datetime, start_by: datetime | None = None
) -> SortKey:
    """Urgent work first, never hidden below calmer work.

    Open tasks: overdue first (the most late first), then those that should have been
    started by now (their learned p90 says so; earliest start first), then rush, then
    high, then by start-by time (due time minus the p90; the due time when there is no
    estimate; none last), then the oldest. Done shows the newest first. The key changes
    when a task becomes overdue or its start-by passes, so the board re-sorts then.
    """
    t = vt.task
    if column is ColumnId.DONE:
        return (0, 0, -finished_at(vt).timestamp(), 0.0, t.id)
    due = t.due_at.timestamp() if t.due_at else math.inf
    if t.due_at is not None and t.due_at <= now:
        return (0, 0, due, t.created_at.timestamp(), t.id)
    start = start_by.timestamp() if start_by is not None else due
    if start_by is not None and start_by <= now:
        return (1, 0, start, t.created_at.timestamp(), t.id)
    return (2, _RANK.get(t.priority, 2), start, t.created_at.timestamp(), t.id)


def is_urgent(facts: CardFacts) -> bool:
    """Rush, late or due soon: what a chef must not miss on a later page."""
    return facts.badge == "RUSH" or facts.urgency is not Urgency.NONE


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
    countdown: str  # "in 8m" / "3m late" / "by Ana Souza"
    urgency: Urgency
    who: str
    who_short: str
    since: str
    syncing: bool
    status: Status
    countdown_short: str = ""  # the same in fewer cells: "by AS"
    plan: str = ""  # "≈ 18 min · start by 11:42", "≈ 18 min", "running long · ≈ 18 min"
    plan_urgency: Urgency = Urgency.NONE  # soon: start now; late: running long
    plan_short: str = ""  # the same in fewer cells: "≈18m · start 11:42"
    similar: int = 0  # other waiting tasks of this station and a similar kind ("+2 similar")
    allergens: tuple[str, ...] = ()
    notes: str = ""  # the first lines of the notes (the whole text is in the details)


def card_facts(
    vt: ViewTask,
    staff: dict[str, Staff],
    now: datetime,
    *,
    due_soon: timedelta,
    tz: tzinfo | None,
    est: TaskEstimate | None = None,
) -> CardFacts:
    t = vt.task
    badge = ""
    if t.status is not Status.DONE:  # once done, urgency no longer matters
        badge = {Priority.RUSH: "RUSH", Priority.HIGH: "HIGH"}.get(t.priority, "")
    due_clock = countdown = countdown_short = who = who_short = since = ""
    urgency = Urgency.NONE

    def person(staff_id: str | None) -> tuple[str, str]:
        if staff_id is None:
            return "", ""
        s = staff.get(staff_id)
        return (s.display_name, s.initials) if s else (UNKNOWN_CHEF, "?")

    if t.status is Status.DONE:
        done = finished_at(vt)
        due_clock = f"done {done.astimezone(tz):%H:%M}"
        name, initials = person(t.completed_by or t.claimed_by)
        countdown = f"by {name}" if name else ""
        countdown_short = f"by {initials}" if initials else ""
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
    plan, plan_short, plan_urgency = plan_words(vt, est, now, tz)
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
        countdown_short=countdown_short,
        plan=plan,
        plan_short=plan_short,
        plan_urgency=plan_urgency,
        allergens=t.allergens,
        notes=" ".join(t.notes.split()),
    )


def fmt_estimate(minutes: float, *, short: bool = False) -> str:
    """ "≈ 18 min", "≈ 1 h 40" (short: "≈18m", "≈1h40"): rounded as a chef would say it."""
    m = max(1, round(minutes))
    if short:
        return f"≈{fmt_minutes(m)}"
    if m < 60:
        return f"≈ {m} min"
    return f"≈ {m // 60} h {m % 60:02d}" if m % 60 else f"≈ {m // 60} h"


def plan_words(
    vt: ViewTask, est: TaskEstimate | None, now: datetime, tz: tzinfo | None
) -> tuple[str, str, Urgency]:
    """The estimate as a card says it (in full and short), and how urgent that is."""
    t = vt.task
    if est is None or t.status not in (Status.PENDING, Status.CLAIMED):
        return "", "", Urgency.NONE
    minutes = est.p50.total_seconds() / 60
    full, short = fmt_estimate(minutes), fmt_estimate(minutes, short=True)
    if t.status is Status.CLAIMED:
        if est.running_long(t, now):
            return f"running long · {full}", f"running long {short}", Urgency.LATE
        return full, short, Urgency.NONE
    start = est.start_by(t)
    if start is None or (t.due_at is not None and t.due_at <= now):
        return full, short, Urgency.NONE  # no due time, or already late (the countdown says)
    if start <= now:
        return f"{full} · start now", f"{short} · start now", Urgency.SOON
    at = f"{start.astimezone(tz):%H:%M}"
    return f"{full} · start by {at}", f"{short} · start {at}", Urgency.NONE


def next_change(vt: ViewTask, now: datetime, est: TaskEstimate | None = None) -> datetime:
    """The next instant this card's text or column can change with time alone.

    Countdowns show whole minutes measured from the task's own timestamps, so the text
    changes only when `now - t` crosses a whole minute for one of them; with an estimate,
    also when the start-by time passes or a claim runs past its p90.
    """
    t = vt.task
    stamps = [s for s in (t.due_at, t.claimed_at, finished_at(vt)) if s is not None]
    if est is not None:
        start = est.start_by(t)
        if start is not None:
            stamps.append(start)
        if t.claimed_at is not None:
            stamps.append(t.claimed_at + est.p90)
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
    flash: bool = False  # a new rush: the card blinks for a few seconds
    changed: bool = False  # another device just changed it: keys wait a moment

    @property
    def task_id(self) -> str:
        return self.vt.task.id
