"""The bottom line: what the keys do, generated from the action registry and keymap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

from caterking_display.ui.actions import REGISTRY, keys_for


class KeyHints(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-hints--key"}

    def __init__(self, keymap: Mapping[str, str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keymap = keymap

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-hints--key", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        for action in REGISTRY:
            if not action.short:
                continue
            keys = keys_for(action.id, self.keymap).split(", ")[0]
            if text:
                text.append("  ")
            text.append(keys, key_style)
            text.append(f" {action.short}")
        return text
