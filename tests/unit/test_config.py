"""Configuration precedence and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from caterking_display.config import EXAMPLE, ConfigError, load

GOOD_ENV = {
    "SUPABASE_URL": "http://127.0.0.1:54321",
    "SUPABASE_ANON_KEY": "anon",
    "CATERKING_DEVICE_EMAIL": "d@x.y",
    "CATERKING_DEVICE_PASSWORD": "pw",
}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_env_alone_is_enough(tmp_path: Path) -> None:
    cfg = load(None, env=GOOD_ENV | {"CATERKING_DATA_DIR": str(tmp_path)})
    assert cfg.url == "http://127.0.0.1:54321"
    assert cfg.data_dir == tmp_path
    assert cfg.theme == "dark" and cfg.skip_picker is False


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[server]\nurl = "https://file.example"\nanon_key = "k"\n'
        '[device]\nemail = "file@x.y"\npassword = "p"\n[display]\nstation = "Grill"\n',
    )
    cfg = load(p, env={"CATERKING_STATION": "Pastry"}, flags={"display.station": "Cold"})
    assert cfg.url == "https://file.example"
    assert cfg.email == "file@x.y"
    assert cfg.station == "Cold"
    cfg = load(p, env={"CATERKING_STATION": "Pastry"})
    assert cfg.station == "Pastry"


def test_example_parses_with_real_values(tmp_path: Path) -> None:
    p = write(tmp_path, EXAMPLE)
    cfg = load(p, env={})
    assert cfg.url == "https://your-project.supabase.co"
    assert cfg.exit_chord == "ctrl+x"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"SUPABASE_URL": ""},
            "server.url: missing — set [server] url in config.toml or SUPABASE_URL",
        ),
        ({"SUPABASE_URL": "ftp://x"}, "server.url: must be an http(s) URL"),
        ({"CATERKING_KITCHEN_ID": "kitchen-1"}, "device.kitchen_id: must be a UUID"),
        ({"CATERKING_DEVICE_PASSWORD": ""}, "device.password: missing"),
    ],
)
def test_bad_values_one_line(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(None, env=GOOD_ENV | extra, flags={"data_dir": "/tmp"})
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[display]\ntheme = "pink"\n', "display.theme: must be one of dark, high-contrast"),
        ("[display]\ndue_soon_minutes = -3\n", "display.due_soon_minutes: must be between"),
        ('[display]\nkiosk = "maybe"\n', "display.kiosk: must be true or false"),
        ("[display\n", "not valid TOML"),
    ],
)
def test_bad_file_values(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load(write(tmp_path, toml), env=GOOD_ENV)


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "missing.toml", env=GOOD_ENV)


def test_alert_command_is_split_like_a_shell_and_its_program_must_exist(tmp_path: Path) -> None:
    import sys

    ok = write(tmp_path, f"[display]\nalert_command = \"{sys.executable} -c 'print(1)'\"\n")
    cfg = load(ok, env=GOOD_ENV)
    assert cfg.alert_command == (sys.executable, "-c", "print(1)")
    missing = write(tmp_path, '[display]\nalert_command = "no-such-player rush.wav"\n')
    with pytest.raises(ConfigError) as info:
        load(missing, env=GOOD_ENV)
    assert str(info.value).startswith("display.alert_command: program 'no-such-player' not found")
    broken = write(tmp_path, '[display]\nalert_command = "aplay \'unclosed"\n')
    with pytest.raises(ConfigError, match=r"display\.alert_command: cannot be read"):
        load(broken, env=GOOD_ENV)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_bytes(b'[display]\nstation = "P\xe2tisserie"\n')  # Latin-1, not UTF-8
    with pytest.raises(ConfigError) as info:
        load(p, env=GOOD_ENV)
    assert "not UTF-8" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["1e400", "-1e400", "nan", "2.5", "inf"])
def test_numbers_that_are_not_whole_are_one_line(tmp_path: Path, value: str) -> None:
    p = write(tmp_path, f"[display]\ndue_soon_minutes = {value}\n")
    with pytest.raises(ConfigError) as info:
        load(p, env=GOOD_ENV)
    assert str(info.value).startswith("display.due_soon_minutes: must be a whole number")
