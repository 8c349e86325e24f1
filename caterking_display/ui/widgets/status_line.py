"""The header: kitchen name, station filter, devices online and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.widget import Widget


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    kitchen: str
    station: str  # "All stations" or the filter
    devices_online: int | None  # None: not known (no live link), so not shown
    clock: str  # "14:05"
    kiosk: bool = False
    alert: str = ""  # "New RUSH: Emergency canapés" for a few seconds


class StatusLine(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-line--kitchen",
        "status-line--station",
        "status-line--clock",
        "status-line--kiosk",
        "status-line--alert",
    }

    def __init__(self, facts: HeaderFacts, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.facts = facts

    def set_facts(self, facts: HeaderFacts) -> None:
        if facts != self.facts:
            self.facts = facts
            self.refresh()

    def render(self) -> Text:
        f = self.facts
        width = max(1, self.content_size.width)

        def style(name: str):  # type: ignore[no-untyped-def]
            return self.get_component_rich_style(f"status-line--{name}", partial=True)

        left = Text.assemble(
            (f.kitchen, style("kitchen")), "  ", (f"▸ {f.station}", style("station"))
        )
        if f.alert:  # a new rush outranks the kitchen's name and the filter
            left = Text(f" {f.alert} ", style("alert"))
        n = f.devices_online
        devices = Text("" if n is None else f"{n} device{'s' if n != 1 else ''} online  ")
        kiosk = Text("kiosk  ", style("kiosk")) if f.kiosk else Text()
        clock = Text(f.clock, style("clock"))
        # Most complete first; the kitchen's name and the filter are cut only as a last resort.
        candidates = [Text.assemble(devices, kiosk, clock), Text.assemble(kiosk, clock)]
        right = next(
            (c for c in candidates if left.cell_len + c.cell_len + 1 <= width), candidates[-1]
        )
        room = width - right.cell_len - 1
        if left.cell_len > room:
            left.truncate(max(0, room), overflow="ellipsis")
        gap = max(0, width - left.cell_len - right.cell_len)
        return Text.assemble(left, " " * gap, right)
