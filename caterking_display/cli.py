"""`caterking-display` command line: parse, validate, hand over. No logic lives here."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

# platformdirs warns when XDG_RUNTIME_DIR is unset (kiosk services, root shells).
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

COMMANDS = {
    "run": ("caterking_display.app_main", "open the board on this device (default)"),
    "doctor": ("caterking_display.doctor", "check configuration and connectivity"),
    "web": ("caterking_display.web", "serve the board to station tablets' browsers"),
}
# The kitchen server's commands live in its own program since the board stopped
# installing the server; an old habit gets told where they went.
SERVER_COMMANDS = ("serve", "demo", "simulate", "migrate", "estimates")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caterking-display",
        description="CaterKing Display: the kitchen task board.",
        epilog="The kitchen server (serve, demo, simulate, migrate, estimates) is "
        "`caterking-server`, installed with `pip install 'caterking-display[server]'`.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SERVER_COMMANDS:
        print(
            f"error: `{args_list[0]}` is part of the kitchen server: run "
            f"`caterking-server {' '.join(args_list)}` (installed with "
            "`pip install 'caterking-display[server]'`)",
            file=sys.stderr,
        )
        return 2
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "run")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    mod = importlib.import_module(args._module)
    try:
        return int(mod.main(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
