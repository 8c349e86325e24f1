"""The shared database contract: SQL migrations and the runner that applies them."""
