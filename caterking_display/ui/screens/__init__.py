"""Modal screens: staff picker, help, refused actions."""
