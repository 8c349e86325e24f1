"""Board widgets, one per module."""
