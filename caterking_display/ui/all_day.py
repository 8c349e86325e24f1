"""All-day counts: the open quantities by kind across the board (pure; no Textual).

"Dice onions · 22 kg · 3 tasks": open (waiting or in progress) tasks grouped by their
kind, with kinds that are close enough merged (the same trigram similarity the server
uses to borrow estimates), quantities added up per unit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from caterking_display.domain.similarity import SIMILAR, group_similar
from caterking_display.domain.task import Status, Task
from caterking_display.ui.card_facts import fmt_quantity


def kind_of(task: Task) -> str:
    """The task's kind (the server's key), or its lower-cased title before the server
    has said."""
    return task.kind or " ".join(task.title.casefold().split())


@dataclass(frozen=True, slots=True)
class AllDayLine:
    label: str  # the most common title in the group (ties: the alphabetically first)
    amounts: str  # "22 kg + 3 tubs" ("" when no task has a quantity)
    tasks: int
    kinds: tuple[str, ...]


def all_day(tasks: Iterable[Task], *, threshold: float = SIMILAR) -> list[AllDayLine]:
    """Open tasks by kind (similar kinds merged), the most tasks first."""
    by_kind: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        if t.status in (Status.PENDING, Status.CLAIMED):
            by_kind[kind_of(t)].append(t)
    order = sorted(by_kind, key=lambda k: (-len(by_kind[k]), k))
    lines: list[AllDayLine] = []
    for group in group_similar(order, threshold):
        members = [t for kind in group for t in by_kind[kind]]
        totals: dict[str, Decimal] = defaultdict(Decimal)
        units: dict[str, str] = {}
        for t in members:
            if t.quantity is not None:
                key = (t.unit or "").strip().casefold()
                totals[key] += t.quantity
                units.setdefault(key, (t.unit or "").strip())
        amounts = " + ".join(
            fmt_quantity(total, units[key] or None)
            for key, total in sorted(totals.items(), key=lambda kv: -kv[1])
        )
        # The most common title; ties go to the alphabetically first (a stable label).
        counts = Counter(t.title for t in members)
        label = min(counts, key=lambda title: (-counts[title], title))
        lines.append(AllDayLine(label, amounts, len(members), tuple(group)))
    lines.sort(key=lambda line: (-line.tasks, line.label.casefold()))
    return lines
