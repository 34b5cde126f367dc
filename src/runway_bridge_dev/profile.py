"""Where the CLI finds a bridge without flags: `runway-bridge dev` writes a profile (API URL, a key,
the local AWS endpoint) while it runs, and `webhooks listen` registers its URL there, so the commands
`make dev` prints work pasted as they are. Flags and environment variables always win.

The directory is `$RUNWAY_BRIDGE_HOME`, else `$XDG_STATE_HOME/runway-bridge`, else
`~/.local/state/runway-bridge`. A file whose process is gone is ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

HOME_VARIABLE = "RUNWAY_BRIDGE_HOME"
DEV_PROFILE = "dev.json"
LISTENER = "listener.json"


def state_dir() -> Path:
    if os.environ.get(HOME_VARIABLE):
        return Path(os.environ[HOME_VARIABLE])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "runway-bridge"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class DevProfile:
    api_url: str
    api_key: str
    tenant_id: str
    aws_endpoint_url: str
    region: str
    api_keys_table: str
    pid: int
    # For scripts (the CLI needs only the fields above); None when not known.
    webhook_secret: str | None = None
    runway_url: str | None = None
    emulator_url: str | None = None  # the Runway emulator (its /_emulator admin API too)
    emulator_api_key: str | None = None
    jobs_table: str | None = None
    data_dir: str | None = None
    copy_function: str | None = None  # the copier, which checks tenants' output destinations


@dataclass(frozen=True)
class Listener:
    url: str
    pid: int


def _write(name: str, record: Any) -> Path:
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(record), indent=2))
    temporary.chmod(0o600)  # it holds a key
    temporary.replace(path)
    return path


def _read(name: str) -> dict[str, Any] | None:
    path = state_dir() / name
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not _alive(int(data.get("pid", -1))):
        return None
    return data


def _remove(name: str, pid: int) -> None:
    path = state_dir() / name
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def write_dev_profile(profile: DevProfile) -> Path:
    return _write(DEV_PROFILE, profile)


def read_dev_profile() -> DevProfile | None:
    data = _read(DEV_PROFILE)
    if not data:
        return None
    known = {field.name for field in fields(DevProfile)}
    return DevProfile(**{name: value for name, value in data.items() if name in known})


def remove_dev_profile() -> None:
    _remove(DEV_PROFILE, os.getpid())


def write_listener(url: str) -> Path:
    return _write(LISTENER, Listener(url, os.getpid()))


def read_listener() -> Listener | None:
    data = _read(LISTENER)
    return Listener(**data) if data else None


def remove_listener() -> None:
    _remove(LISTENER, os.getpid())
