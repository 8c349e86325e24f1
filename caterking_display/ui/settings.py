"""What the board needs to know about its screen, kitchen and keys.

The CLI builds this from the TOML file, the environment and flags; the UI only reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ThemeName = Literal["dark", "high-contrast"]


@dataclass(frozen=True, slots=True)
class UISettings:
    kitchen_name: str = "Kitchen"
    stations: tuple[str, ...] = ()
    """Stations `s` cycles through; empty means every station seen on the board."""
    skip_picker: bool = False
    """Single-chef stations: claim/complete as `default_staff_id` without asking."""
    default_staff_id: str | None = None
    kiosk: bool = False
    exit_chord: str = "ctrl+x"
    """Leaves the board (kiosk mode's only exit); it must be pressed twice within 2 s."""
    theme: ThemeName = "dark"
    keymap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Binding id -> keys (comma separated), e.g. {"claim": "c,f1"}."""
    due_soon_minutes: int = 10
    stale_after_seconds: int = 90
    """While live, warn when nothing has arrived from the server for this long."""
    done_recent_minutes: int = 30
    timezone: str | None = None
    """IANA zone for clock and due times (the kitchen's); None means the device's zone."""
    initial_station: str | None = None
    bell_on_rush: bool = True
    """Ring the terminal bell when a new rush task arrives."""
    alert_command: tuple[str, ...] = ()
    """A command run (in the background) for each new rush task, e.g. ("aplay", "rush.wav")."""

    def __post_init__(self) -> None:
        if self.theme not in ("dark", "high-contrast"):
            raise ValueError(f"theme: expected 'dark' or 'high-contrast', got {self.theme!r}")
        if self.due_soon_minutes < 0:
            raise ValueError("due_soon_minutes: must not be negative")
        if self.done_recent_minutes < 0:
            raise ValueError("done_recent_minutes: must not be negative")
        if self.stale_after_seconds <= 0:
            raise ValueError("stale_after_seconds: must be positive")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"timezone: unknown zone {self.timezone!r}") from exc
        if not self.exit_chord:
            raise ValueError("exit_chord: must name a key, e.g. 'ctrl+x'")

    @property
    def tzinfo(self) -> tzinfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None
