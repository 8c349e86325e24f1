"""Pure domain model: tasks, actions, clocks. No I/O, no Textual, no network."""
