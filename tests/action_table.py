"""The task-action contract as one table: what the server does (tests/schema) and what the
board predicts before the server answers (tests/unit) are both checked against it, so
the two cannot drift apart.

States: "pending", "claimed0"/"claimed1" (claimed by staff 0 or 1), "done0"/"done1"
(completed by staff 0 or 1), "cancelled". The acting chef is staff 0.
"""

from __future__ import annotations

# (function, how to make the task, acting staff index, expected outcome, status after, reason)
CASES = [
    ("claim_task", "pending", 0, "applied", "claimed", None),
    ("claim_task", "claimed0", 0, "duplicate", "claimed", "already_claimed"),
    ("claim_task", "claimed1", 0, "conflict", "claimed", "claimed_by_other"),
    ("claim_task", "done1", 0, "conflict", "done", "done"),
    ("claim_task", "cancelled", 0, "conflict", "cancelled", "cancelled"),
    ("release_task", "claimed0", 0, "applied", "pending", None),
    ("release_task", "claimed1", 0, "conflict", "claimed", "claimed_by_other"),
    ("release_task", "pending", 0, "conflict", "pending", "not_claimed"),
    ("release_task", "done0", 0, "conflict", "done", "not_claimed"),
    ("complete_task", "pending", 0, "applied", "done", None),
    ("complete_task", "claimed0", 0, "applied", "done", None),
    ("complete_task", "claimed1", 0, "conflict", "claimed", "claimed_by_other"),
    ("complete_task", "done0", 0, "duplicate", "done", "already_done"),
    ("complete_task", "done1", 0, "conflict", "done", "done_by_other"),
    ("complete_task", "cancelled", 0, "conflict", "cancelled", "cancelled"),
    ("reopen_task", "done1", 0, "applied", "pending", None),
    ("reopen_task", "pending", 0, "conflict", "pending", "not_done"),
    ("reopen_task", "claimed0", 0, "conflict", "claimed", "not_done"),
    ("reopen_task", "cancelled", 0, "conflict", "cancelled", "not_done"),
]
