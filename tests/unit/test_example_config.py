"""The shipped example config loads (so the README's instructions work)."""

from pathlib import Path

from caterking_display.config import EXAMPLE, load

ROOT = Path(__file__).resolve().parents[2]


def test_assets_example_config_loads() -> None:
    cfg = load(ROOT / "assets" / "config.example.toml", env={})
    assert cfg.kiosk is True
    assert cfg.url.startswith("https://")


def test_builtin_example_matches_keys() -> None:
    assert "[server]" in EXAMPLE and "[display]" in EXAMPLE
