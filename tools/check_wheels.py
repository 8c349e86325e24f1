"""Can a Raspberry Pi install the board without a compiler? Resolve a lock against
PyPI for 32-bit (armv7l) and 64-bit (aarch64) Raspberry Pi OS with binary wheels only.

    .venv/bin/python tools/check_wheels.py                      # requirements.lock
    .venv/bin/python tools/check_wheels.py requirements-web.lock

For each machine and Python (3.11: Raspberry Pi OS 12 "bookworm"; 3.13: 13 "trixie",
both glibc ≥ 2.36) it asks pip to install exactly the lock, with its dependencies, from
wheels only, without installing anything. It fails (exit 1) when a package has no
wheel for a target — that install would need a compiler and headers on the Pi — or
when the lock misses a dependency. Needs https://pypi.org (this machine's own pip
configuration is ignored: a local mirror may lack ARM wheels). Exit 3 when PyPI cannot
be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = "https://pypi.org/simple"
MACHINES = ("armv7l", "aarch64")
PYTHONS = ("3.11", "3.13")
GLIBC_MINOR = 36  # Raspberry Pi OS 12 and 13


def platforms(machine: str) -> list[str]:
    """Every manylinux tag a glibc-2.36 system accepts (pip does not expand them)."""
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked(lock: Path, machine: str) -> dict[str, str]:
    out = {}
    for line in lock.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req, _, marker = line.partition(";")
        if "armv7l" in marker and ("!=" in marker) == (machine == "armv7l"):
            continue  # e.g. `; platform_machine != "armv7l"` on a 32-bit Pi
        name, _, version = req.strip().partition("==")
        out[_normal(name)] = version.strip()
    return out


def _pip(target: Path, machine: str, python: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`pip install --dry-run` for a Raspberry Pi target, wheels only, from PyPI."""
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--quiet",
           "--ignore-installed", "--only-binary=:all:", "--target", str(target),
           "--python-version", python, "--implementation", "cp",
           "--abi", "cp" + python.replace(".", ""), "--index-url", INDEX]  # fmt: skip
    for tag in platforms(machine):
        cmd += ["--platform", tag]
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_CONSTRAINT", "PIP_FIND_LINKS")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, check=False)


def check(lock: Path, machine: str, python: str) -> list[str]:
    """Problems found for one target (empty: installs from wheels alone)."""
    want = locked(lock, machine)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "t"
        reqs = Path(tmp) / "req.txt"
        reqs.write_text("".join(f"{n}=={v}\n" for n, v in want.items()))
        report = Path(tmp) / "report.json"
        res = _pip(
            target, machine, python, "-r", str(reqs), "-c", str(reqs), "--report", str(report)
        )
        if res.returncode != 0:
            # pip names one culprit; ask package by package to name them all.
            no_wheel = [
                f"{n}=={v} has no wheel for this target"
                for n, v in want.items()
                if _pip(target, machine, python, "--no-deps", f"{n}=={v}").returncode != 0
            ]
            errors = [ln for ln in res.stderr.splitlines() if ln.startswith("ERROR")]
            return no_wheel or errors or [res.stderr.strip()[-500:]]
        got = json.loads(report.read_text())["install"]
    problems = []
    names = set()
    for item in got:
        name = _normal(item["metadata"]["name"])
        names.add(name)
        if name not in want:
            problems.append(f"{name} {item['metadata']['version']} is needed but not locked")
    problems += [
        f"{name} is locked but nothing needs it here" for name in sorted(set(want) - names)
    ]
    return problems


def pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen(f"{INDEX}/pip/", timeout=15) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("locks", nargs="*", default=["requirements.lock"])
    args = parser.parse_args(argv)
    if not pypi_reachable():
        print(f"cannot reach {INDEX}: nothing checked", file=sys.stderr)
        return 3
    targets = [
        ((ROOT / name) if not Path(name).is_absolute() else Path(name), machine, python)
        for name in args.locks
        for machine in MACHINES
        for python in PYTHONS
    ]
    # Each check mostly waits on PyPI: ask for all of them at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: check(*t), targets))
    failed = False
    for (lock, machine, python), problems in zip(targets, results, strict=True):
        verdict = "wheels only" if not problems else "NEEDS A COMPILER OR A FIX"
        print(f"{lock.name:28} {machine:8} cp{python:5} {verdict}")
        for p in problems:
            print(f"    {re.sub(r'^ERROR: ', '', p)}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
