"""What goes on which line of a card, for a given width (pure; no Textual).

A card is at least three lines: the title, then quantity · station and the due time, then
the countdown and who holds it. Where that does not fit, the card grows rather than
dropping a fact: a long title wraps to a second line, the due time moves down, the chef's
name gets its own line, and the quantity's unit is never cut ("60 pcs", not "60…").
Allergens are never cut either; they wrap. Notes get up to two lines (the whole text is
in the card's details).

The card widget turns the lines into styled text and the column uses their count to page.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len

from caterking_display.domain.task import Status
from caterking_display.ui.card_facts import CardFacts, Urgency

TITLE_LINES = 2
NOTE_LINES = 2

BUTTON_WIDTH = 10
"""The labelled action button ("▶ Claim"); touch wants ≥ 12 columns with the padding."""
COMPACT_BUTTON_WIDTH = 5
"""A narrow card shows only the button's mark, still five columns by the card's height."""
MIN_TEXT_WIDTH = 22
"""Text cells the labelled button must leave; below this the card uses the compact one."""


def button_width(content_width: int, has_button: bool) -> int:
    """Cells the action button takes of a card's content width (0: no button)."""
    if not has_button:
        return 0
    if content_width - BUTTON_WIDTH >= MIN_TEXT_WIDTH:
        return BUTTON_WIDTH
    return COMPACT_BUTTON_WIDTH if content_width - COMPACT_BUTTON_WIDTH >= 8 else 0


def has_button(f: CardFacts) -> bool:
    """Pending cards have ▶ Claim, claimed ones ✓ Done; done cards none (recall is a list)."""
    return f.status in (Status.PENDING, Status.CLAIMED)


def card_height(f: CardFacts, content_width: int, *, wrap_title: bool = True) -> int:
    """Rows the card needs at this content width (its lines; at least three)."""
    text = content_width - button_width(content_width, has_button(f))
    return max(3, len(card_lines(f, text, wrap_title=wrap_title)))


@dataclass(frozen=True, slots=True)
class Seg:
    """A run of text in one style (a component class suffix; "" = the card's colour)."""

    text: str
    style: str = ""


Line = tuple[Seg, ...]


def line_len(line: Line) -> int:
    return sum(cell_len(s.text) for s in line)


def _cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, with an ellipsis when cut."""
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    out = ""
    for ch in text:
        if cell_len(out + ch) > width - 1:
            break
        out += ch
    return out.rstrip() + "…"


def wrap_words(text: str, first: int, rest: int, max_lines: int) -> list[str]:
    """Word-wrap into at most ``max_lines`` lines (the first ``first`` cells wide, the
    others ``rest``); the last line is cut with an ellipsis if the text does not fit."""
    words = text.split()
    lines: list[str] = []
    current = ""
    i = 0
    while i < len(words):
        width = first if not lines else rest
        word = words[i]
        candidate = f"{current} {word}" if current else word
        if cell_len(candidate) <= width:
            current = candidate
            i += 1
            continue
        if not current:  # one word longer than the line: break it
            current = _cut(word, width)
            i += 1
        if len(lines) == max_lines - 1:
            rest_text = " ".join([current, *words[i:]]) if i < len(words) else current
            lines.append(_cut(rest_text, width))
            return lines
        lines.append(current)
        current = ""
    if current or not lines:
        lines.append(current)
    return lines


def spread(left: Line, right: Line, width: int) -> Line | None:
    """``left`` flush left and ``right`` flush right on one line; None if they don't fit."""
    gap = width - line_len(left) - line_len(right)
    if gap < (1 if left and right else 0):
        return None
    return (*left, Seg(" " * gap), *right)


def _detail_forms(quantity: str, station: str) -> list[str]:
    parts = [p for p in (quantity, station) if p]
    forms = [" · ".join(parts), "·".join(parts)]
    if quantity and station:
        forms.append(f"{quantity.replace(' ', '')}·{station}")
    return list(dict.fromkeys(forms))


def card_lines(
    f: CardFacts, width: int, *, wrap_title: bool = True, syncing_word: str = "⟳ syncing"
) -> list[Line]:
    """The card's lines at ``width`` text cells. ``wrap_title``: a long title takes a
    second line and notes two (while the column has room); otherwise the title is cut and
    the notes get one line (the details have the whole text)."""
    width = max(1, width)
    notes = NOTE_LINES if wrap_title else 1
    lines: list[Line] = []

    # Title, with its RUSH / HIGH badge; wraps to a second line before it is cut.
    badge: Line = ()
    if f.badge:
        badge = (Seg(f" {f.badge} ", "rush" if f.badge == "RUSH" else "high"), Seg(" "))
    if f.similar:
        tag = f" +{f.similar} similar "
        if width - line_len(badge) - len(tag) < 12:
            tag = f" +{f.similar} "
        badge = (*badge, Seg(tag, "similar"), Seg(" "))
    room = max(1, width - line_len(badge))
    for n, text in enumerate(wrap_words(f.title, room, width, TITLE_LINES if wrap_title else 1)):
        lines.append((*badge, Seg(text, "title")) if n == 0 else (Seg(text, "title"),))

    meta = "meta"
    due: Line = (Seg(f.due_clock, meta),) if f.due_clock else ()
    urgency = {Urgency.SOON: "soon", Urgency.LATE: "late"}.get(f.urgency, meta)
    lefts: list[Line] = [
        (Seg(text, urgency),) for text in dict.fromkeys((f.countdown, f.countdown_short)) if text
    ] or [()]

    def claimer(name: str, word: bool) -> Line:
        segs: list[Seg] = []
        if f.syncing:
            segs.append(Seg(syncing_word if word else syncing_word[0], "syncing"))
        if name:
            if segs:
                segs.append(Seg(" "))
            segs.append(Seg(name, "who"))
            if f.since:
                segs.append(Seg(f" {f.since}", meta))
        return tuple(segs)

    claimers = [claimer(f.who, True), claimer(f.who_short, True), claimer(f.who_short, False)]
    forms = _detail_forms(f.quantity, f.station)
    plan_style = {Urgency.SOON: "soon", Urgency.LATE: "late"}.get(f.plan_urgency, meta)
    plans: list[Line] = [
        (Seg(text, plan_style),) for text in dict.fromkeys((f.plan, f.plan_short)) if text
    ]
    plan_line: list[Line] = []
    if plans:
        plan_line = [next((p for p in plans if line_len(p) <= width), plans[-1])]

    # Line three: the countdown, then who holds it, with the estimate beside them where
    # it fits (a waiting card: on the right; a claimed one: after the countdown), else
    # on a line of its own.
    thirds: list[tuple[Line, Line, bool]] = []
    for plan in plans:
        if f.status is Status.PENDING:
            thirds += [(left, plan, True) for left in lefts]
        else:
            joined = [(*left, Seg(" · "), *plan) if left else plan for left in lefts]
            thirds += [(left, who, True) for left in joined for who in claimers]
    thirds += [(left, who, False) for left in lefts for who in claimers]

    # The classic three lines, when they fit.
    for form in forms:
        line2 = spread((Seg(form, meta),) if form else (), due, width)
        if line2 is None:
            continue
        for left, right, with_plan in thirds:
            line3 = spread(left, right, width)
            if line3 is not None:
                more = [] if with_plan else plan_line
                return [*lines, line2, line3, *more, *_extras(f, width, notes)]
        break

    # Narrow: one fact group per line, nothing cut.
    form = next((x for x in forms if cell_len(x) <= width), "")
    if form:
        lines.append((Seg(form, meta),))
    else:  # the quantity and the station each on their own line
        lines += [(Seg(_cut(p, width), meta),) for p in (f.quantity, f.station) if p]
    when = next((w for w in (spread(left, due, width) for left in lefts) if w is not None), None)
    if when is not None:
        if when:
            lines.append(when)
    else:
        lines += [line for line in (lefts[0], due) if line]
    who = next((w for w in claimers if line_len(w) <= width), claimers[-1])
    if who:
        lines.append(spread((), who, width) or who)
    return [*lines, *plan_line, *_extras(f, width, notes)]


def _extras(f: CardFacts, width: int, note_lines: int) -> list[Line]:
    """Allergens (never cut: they wrap) and notes (up to ``note_lines`` lines)."""
    out: list[Line] = []
    rest = width
    current: list[Seg] = []
    if f.allergens:
        words = ["⚠", *(a.upper() for a in f.allergens)]
        chunk = ""
        for word in words:
            candidate = f"{chunk} {word}" if chunk else word
            if cell_len(candidate) + 2 <= width or not chunk:
                chunk = candidate
                continue
            out.append((Seg(f" {chunk} ", "allergen"),))
            chunk = word
        current = [Seg(f" {chunk} ", "allergen")]
        rest = width - line_len(tuple(current)) - 1
    if f.notes:
        if current and rest >= 8:
            first = wrap_words(f.notes, rest, width, note_lines)
            out.append((*current, Seg(" "), Seg(first[0], "notes")))
            out += [(Seg(t, "notes"),) for t in first[1:]]
            return out
        if current:
            out.append(tuple(current))
        out += [(Seg(t, "notes"),) for t in wrap_words(f.notes, width, width, note_lines)]
        return out
    if current:
        out.append(tuple(current))
    return out
