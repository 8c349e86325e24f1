"""What a display's setup is made of, as plain values (pure; no I/O).

The setup screen fills a `SetupDraft`; the checks (done outside the UI) answer with one
`StepResult` per `Step`: facts, which the UI turns into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class SetupDraft:
    """What the person setting up the display has typed so far."""

    url: str = ""
    anon_key: str = ""
    email: str = ""
    password: str = ""
    station: str = ""

    def missing(self) -> list[str]:
        return [
            name
            for name, value in (
                ("url", self.url),
                ("anon_key", self.anon_key),
                ("email", self.email),
                ("password", self.password),
            )
            if not value.strip()
        ]


class Step(StrEnum):
    SERVER = "server"
    SIGN_IN = "sign_in"
    KITCHEN = "kitchen"
    REALTIME = "realtime"
    STATION = "station"


STEPS: tuple[Step, ...] = tuple(Step)


@dataclass(frozen=True, slots=True)
class StepResult:
    """One check. ``ok`` None: not run (an earlier step failed, or nothing to check).
    ``code`` is a machine word for the UI; ``detail`` a name or a figure worth showing
    (the kitchen's name, the stations seen), never a sentence."""

    step: Step
    ok: bool | None
    code: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FoundServer:
    url: str
    anon_key: str | None  # None: it answered as a Supabase-compatible server, without setup info
