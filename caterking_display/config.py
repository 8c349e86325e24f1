"""Configuration: TOML file, overridden by environment, overridden by flags.

A bad value stops start-up with one line naming the setting and what is wrong.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import platformdirs

APP_NAME = "caterking-display"

ENV_MAP = {
    "SUPABASE_URL": "server.url",
    "SUPABASE_ANON_KEY": "server.anon_key",
    "CATERKING_DEVICE_EMAIL": "device.email",
    "CATERKING_DEVICE_PASSWORD": "device.password",
    "CATERKING_KITCHEN_ID": "device.kitchen_id",
    "CATERKING_STATION": "display.station",
    "CATERKING_DATA_DIR": "data_dir",
    "CATERKING_FEED": "server.feed",
}

THEMES = ("dark", "high-contrast")
FEEDS = ("auto", "broadcast", "postgres_changes")


class ConfigError(ValueError):
    """One line: the setting, what is wrong, how to fix it."""


@dataclass(frozen=True)
class Config:
    url: str
    anon_key: str
    email: str
    password: str
    kitchen_id: str | None  # None: taken from the device account's app_metadata
    data_dir: Path
    device_name: str
    station: str | None = None
    skip_picker: bool = False
    default_staff_id: str | None = None
    kiosk: bool = False
    exit_chord: str = "ctrl+x"
    theme: str = "dark"
    due_soon_minutes: int = 10
    done_recent_minutes: int = 30
    stale_after_seconds: int = 90
    bell_on_rush: bool = True
    alert_command: tuple[str, ...] = ()
    keymap: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    feed: str = "auto"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "board.sqlite3"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (a stack's `stack.env`, as `supabase status -o env` prints)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            out[key.strip()] = value.strip()
    return out


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k != "keys":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_file(path: Path | None, *, required: bool) -> dict[str, Any]:
    target = path or default_config_path()
    if not target.exists():
        if required:
            raise ConfigError(f"config file {target}: not found (check --config)")
        return {}
    try:
        with target.open("rb") as f:
            return _flatten(tomllib.load(f))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {target}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {target}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {target}: cannot be read ({exc.strerror})") from exc


REQUIRED = ("server.url", "server.anon_key", "device.email", "device.password")
"""What a display cannot start without; the setup screen asks for these."""


def merged_values(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The raw settings: file < environment < flags (not validated)."""
    env = os.environ if env is None else env
    values = read_file(config_path, required=False)
    for var, key in ENV_MAP.items():
        if env.get(var):
            values[key] = env[var]
    for key, v in (flags or {}).items():
        if v is not None:
            values[key] = v
    return values


def missing(values: Mapping[str, Any]) -> list[str]:
    """The required settings that are absent or empty."""
    return [k for k in REQUIRED if not (isinstance(values.get(k), str) and values[k].strip())]


def load(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Config:
    """File < environment < flags. Raises ConfigError with one clear line."""
    if config_path is not None and not config_path.exists():
        raise ConfigError(f"config file {config_path}: not found (check --config)")
    values = merged_values(config_path, env, flags)
    return validate(values, config_path or default_config_path())


def _where(key: str) -> str:
    env = next((e for e, k in ENV_MAP.items() if k == key), None)
    section, _, name = key.rpartition(".")
    place = f"[{section}] {name}" if section else name
    return f"{place} in config.toml" + (f" or {env}" if env else "")


def _req_str(values: dict[str, Any], key: str) -> str:
    v = values.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        raise ConfigError(f"{key}: missing — set {_where(key)}")
    if not isinstance(v, str):
        raise ConfigError(f"{key}: must be text, got {type(v).__name__}")
    return v.strip()


def _opt_str(values: dict[str, Any], key: str) -> str | None:
    v = values.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise ConfigError(f"{key}: must be text, got {type(v).__name__}")
    return v.strip()


def _bool(values: dict[str, Any], key: str, default: bool) -> bool:
    v = values.get(key, default)
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return v.lower() in ("true", "1", "yes", "on")
    raise ConfigError(f"{key}: must be true or false, got {v!r}")


def _int(values: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    v = values.get(key, default)
    if isinstance(v, float) and not v.is_integer():  # 2.5, inf, nan (TOML 1e400 is inf)
        raise ConfigError(f"{key}: must be a whole number between {lo} and {hi}, got {v!r}")
    try:
        n = int(v)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key}: must be a whole number, got {v!r}") from None
    if isinstance(v, bool) or not lo <= n <= hi:
        raise ConfigError(f"{key}: must be between {lo} and {hi}, got {v!r}")
    return n


def _uuid(values: dict[str, Any], key: str) -> str | None:
    v = _opt_str(values, key)
    if v is None:
        return None
    try:
        return str(uuid.UUID(v))
    except ValueError:
        raise ConfigError(f"{key}: must be a UUID, got {v!r}") from None


def _command(values: dict[str, Any], key: str) -> tuple[str, ...]:
    """A command line (split like a shell would, no shell run); its program must exist."""
    text = _opt_str(values, key)
    if text is None:
        return ()
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise ConfigError(f"{key}: cannot be read as a command ({exc})") from None
    if not argv:
        return ()
    if shutil.which(argv[0]) is None:
        raise ConfigError(f"{key}: program {argv[0]!r} not found (install it or give its path)")
    return argv


def validate(values: dict[str, Any], path: Path) -> Config:
    """Settings (already merged) checked and typed; ConfigError names a bad one."""
    url = _req_str(values, "server.url")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"server.url: must be an http(s) URL like https://xyz.supabase.co, got {url!r}"
        )
    theme = _opt_str(values, "display.theme") or "dark"
    if theme not in THEMES:
        raise ConfigError(f"display.theme: must be one of {', '.join(THEMES)}, got {theme!r}")
    feed = _opt_str(values, "server.feed") or "auto"
    if feed not in FEEDS:
        raise ConfigError(f"server.feed: must be one of {', '.join(FEEDS)}, got {feed!r}")
    keymap = values.get("keys", {}) or {}
    if not isinstance(keymap, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keymap.items()
    ):
        raise ConfigError('keys: must be a table of action = "key,key" strings')
    data_dir = Path(_opt_str(values, "data_dir") or default_data_dir()).expanduser()
    device_name = _opt_str(values, "device.name") or os.uname().nodename
    return Config(
        url=url.rstrip("/"),
        anon_key=_req_str(values, "server.anon_key"),
        email=_req_str(values, "device.email"),
        password=_req_str(values, "device.password"),
        kitchen_id=_uuid(values, "device.kitchen_id"),
        data_dir=data_dir,
        device_name=device_name,
        station=_opt_str(values, "display.station"),
        skip_picker=_bool(values, "display.skip_picker", False),
        default_staff_id=_uuid(values, "display.default_staff_id"),
        kiosk=_bool(values, "display.kiosk", False),
        exit_chord=_opt_str(values, "display.exit_chord") or "ctrl+x",
        theme=theme,
        due_soon_minutes=_int(values, "display.due_soon_minutes", 10, 1, 240),
        done_recent_minutes=_int(values, "display.done_recent_minutes", 30, 1, 1440),
        stale_after_seconds=_int(values, "display.stale_after_seconds", 90, 10, 3600),
        bell_on_rush=_bool(values, "display.bell_on_rush", True),
        alert_command=_command(values, "display.alert_command"),
        keymap=dict(keymap),
        config_path=path,
        feed=feed,
    )


EXAMPLE = """\
# CaterKing Display configuration. Environment variables override these values,
# and command-line flags override both.

[server]
url = "https://your-project.supabase.co"      # SUPABASE_URL
anon_key = "eyJ..."                            # SUPABASE_ANON_KEY
# feed = "auto"  # CATERKING_FEED: how changes arrive — "broadcast" (from the database,
#                # scales to many displays), "postgres_changes", or "auto": broadcast
#                # when the server proves it delivers them at join, else postgres_changes

[device]
email = "pass-display@yourkitchen.example"     # CATERKING_DEVICE_EMAIL
password = "..."                               # CATERKING_DEVICE_PASSWORD
# kitchen_id = "..."      # CATERKING_KITCHEN_ID; default: from the device account
# name = "pass"           # shown to other devices; default: host name

[display]
# station = "Grill"        # CATERKING_STATION: start filtered to one station
skip_picker = false        # true on single-chef stations: no "who?" question
# default_staff_id = "..." # the chef used when the picker is skipped
kiosk = false              # no quit key, no command palette
exit_chord = "ctrl+x"      # the one key that leaves kiosk mode
theme = "dark"             # or "high-contrast"
due_soon_minutes = 10      # amber this long before due
done_recent_minutes = 30   # how long done cards stay in the Done column
stale_after_seconds = 90   # warn when nothing has arrived for this long
bell_on_rush = true        # ring the terminal bell for a new rush task
# alert_command = "aplay -q /usr/share/sounds/alsa/Front_Center.wav"  # a sound per new rush

[keys]
# claim = "c,f1"
"""
