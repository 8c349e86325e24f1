"""The board's two themes: dark (default) and high contrast for bright or steamy kitchens."""

from __future__ import annotations

from textual.theme import Theme

DARK = Theme(
    name="caterking-dark",
    primary="#3B82F6",
    secondary="#6B7280",
    accent="#22D3EE",
    warning="#FFB020",
    error="#F43F5E",
    success="#22C55E",
    foreground="#F1F5F9",
    background="#0B0F14",
    surface="#18202B",
    panel="#243041",
    dark=True,
)

HIGH_CONTRAST = Theme(
    name="caterking-high-contrast",
    primary="#00B7FF",
    secondary="#FFFFFF",
    accent="#FFFF00",
    warning="#FFD000",
    error="#FF2020",
    success="#00FF5A",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1C1C1C",
    dark=True,
    text_alpha=1.0,
)

THEMES = (DARK, HIGH_CONTRAST)


def theme_name(setting: str) -> str:
    """The Textual theme for a `UISettings.theme` value."""
    return HIGH_CONTRAST.name if setting == "high-contrast" else DARK.name
