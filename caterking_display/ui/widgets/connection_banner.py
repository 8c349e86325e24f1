"""The connection banner: a quiet line when live, a full-width coloured bar when not."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from caterking_display.ui.status_text import BannerFacts, BannerLevel

_LEVEL_CLASSES = tuple(f"-{level.value}" for level in BannerLevel)


class ConnectionBanner(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"connection-banner--headline"}

    class Tapped(Message):
        """The banner was tapped (when sign-in failed, it opens the setup)."""

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Tapped())

    def __init__(self, facts: BannerFacts, *, id: str | None = None) -> None:
        super().__init__(id=id, classes=f"-{facts.level.value}")
        self.facts = facts

    def set_facts(self, facts: BannerFacts) -> None:
        if facts == self.facts:
            return
        if facts.level != self.facts.level:
            self.remove_class(*_LEVEL_CLASSES)
            self.add_class(f"-{facts.level.value}")
        self.facts = facts
        self.refresh(layout=True)

    def render(self) -> Text:
        f = self.facts
        mark = "●" if f.level is BannerLevel.LIVE else "▲"
        text = Text()
        text.append(
            f"{mark} {f.headline}",
            self.get_component_rich_style("connection-banner--headline", partial=True),
        )
        detail = f.detail
        width = self.content_size.width
        if f.short_detail and width and text.cell_len + 2 + cell_len(detail) > width:
            detail = f.short_detail  # the same facts in fewer words
        if detail:
            text.append(f"  {detail}")
        if width and text.cell_len > width:
            text.truncate(width, overflow="ellipsis")
        return text
