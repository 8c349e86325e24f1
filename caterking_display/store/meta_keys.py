"""The keys of the store's ``meta`` table, in one place (every layer reads them from here)."""

from __future__ import annotations

LAST_STAFF = "last_staff_id"
"""The chef last picked on this device (preselected in the "who?" picker)."""

KITCHEN_NAME = "kitchen_name"
"""The kitchen's name, kept so a display starting offline shows it."""

DEVICE_NAME = "device_name"
"""The name the server records for this board's actions (its account's), once learned;
it replaces the configured name so "claimed on this board" stays right offline."""

KITCHEN_TIMEZONE = "kitchen_timezone"
"""The kitchen's IANA time zone, for the clock and due times."""
