"""DESIGN.md §2: dependency arrows point down; a test fails if one points up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "caterking_display"

SUPABASE_CLIENTS = {"supabase", "realtime", "postgrest", "supabase_auth", "gotrue"}
NETWORK = SUPABASE_CLIENTS | {"httpx", "aiohttp", "websockets", "psycopg", "psycopg_pool", "socket"}
UI = {"textual", "rich"}

# package -> imports it must never make
RULES: dict[str, set[str]] = {
    "domain": UI
    | NETWORK
    | {
        "caterking_display.store",
        "caterking_display.sync",
        "caterking_display.ui",
        "caterking_display.backend",
    },
    "store": UI
    | NETWORK
    | {"caterking_display.sync", "caterking_display.ui", "caterking_display.backend"},
    "sync": UI | SUPABASE_CLIENTS | {"caterking_display.ui"},
    "ui": NETWORK
    | {"caterking_display.backend", "caterking_display.sync", "caterking_display.localstack"},
    "backend": UI | {"caterking_display.ui", "caterking_display.sync"},
    "localstack": UI
    | SUPABASE_CLIENTS
    | {
        "caterking_display.ui",
        "caterking_display.sync",
        "caterking_display.store",
        "caterking_display.backend",
    },
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def violates(name: str, banned: set[str]) -> bool:
    return any(name == b or name.startswith(b + ".") for b in banned)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports(layer: str) -> None:
    root = PKG / layer
    assert root.is_dir(), f"{layer}/ is missing"
    bad = []
    for path in sorted(root.rglob("*.py")):
        for name in imports_of(path):
            if violates(name, RULES[layer]):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert not bad, "\n".join(bad)


def test_supabase_clients_only_in_backend() -> None:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if path.relative_to(PKG).parts[0] == "backend":
            continue
        for name in imports_of(path):
            if violates(name, SUPABASE_CLIENTS):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert not bad, "\n".join(bad)


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
