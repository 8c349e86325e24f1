"""Placeholder until its issue lands; says so plainly instead of pretending."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    print("error: 'doctor' is not available in this build yet", file=sys.stderr)
    return 2
