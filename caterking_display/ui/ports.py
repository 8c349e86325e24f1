"""What the UI needs from the store: the narrow interface it is written against.

`caterking_display.store.BoardStore` satisfies this; tests may use a small fake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from caterking_display.domain.actions import Action
from caterking_display.domain.board import BoardView, FailedAction, Notice, PendingOp, ViewTask
from caterking_display.domain.estimates import Estimate
from caterking_display.domain.setup import FoundServer, SetupDraft, StepResult
from caterking_display.store import ESTIMATES_CHANGED, STAFF_CHANGED, StoreRecovery, meta_keys

__all__ = ["ESTIMATES_CHANGED", "LAST_STAFF_META", "STAFF_CHANGED", "BoardSource", "SetupPort"]

LAST_STAFF_META = meta_keys.LAST_STAFF

"""Store meta key: the chef last picked on this device (preselected in the picker)."""


class BoardSource(Protocol):
    """The board as the UI reads and changes it."""

    def view(self) -> BoardView: ...

    def get(self, task_id: str) -> ViewTask | None: ...

    def subscribe(self, listener: Callable[[frozenset[str]], None]) -> Callable[[], None]: ...

    def notices_subscribe(self, listener: Callable[[Notice], None]) -> Callable[[], None]: ...

    def enqueue(self, action: Action, task_id: str, staff_id: str) -> PendingOp: ...

    def withdraw(self, op_ids: Iterable[str]) -> bool: ...

    def first_send_in_flight(self, op_id: str) -> bool: ...

    def failed_actions(self) -> list[FailedAction]: ...

    def estimate(self, kind: str | None, station: str) -> Estimate | None: ...

    @property
    def device_name(self) -> str:
        """The name this board's actions are recorded under (a task's ``claimed_device``
        when it was claimed here)."""
        ...

    @property
    def recovery(self) -> StoreRecovery | None: ...

    def acknowledge_recovery(self) -> None: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


class SetupPort(Protocol):
    """What the setup screen needs done outside the UI: the checks (network), looking
    for a kitchen server, and writing the configuration file."""

    async def check(self, draft: SetupDraft) -> list[StepResult]: ...

    async def scan(self) -> list[FoundServer]: ...

    def save(self, draft: SetupDraft) -> None: ...

    async def opens_offline(self, draft: SetupDraft) -> bool:
        """While the server cannot be reached: may this account open its saved board
        here (its password is the one the server last accepted on this host)?"""
        ...
