"""Typed readers for environment variables, used by settings and the launcher.

Each helper fails loudly with the variable's name when a value cannot be parsed,
so a typo in a deployment shows up at start-up rather than as odd behaviour later.
"""

import contextlib
import os
import secrets
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvError(ValueError):
    pass


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise EnvError(f"{name}={value!r}: use one of {', '.join(choices)}")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise EnvError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_number(name: str, default, parse, what: str):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw)
    except ValueError:
        raise EnvError(f"{name}={raw!r} is not {what}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path, base: Path | None = None) -> Path:
    """A path from the environment; a relative one is taken relative to `base` (or the cwd)."""
    raw = os.environ.get(name)
    if not raw:
        return default.resolve()
    path = Path(raw).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path.resolve()


def secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else the key kept in `data_dir`/secret_key, made at first use."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    path = data_dir / "secret_key"
    if not path.exists():
        # Written 0600 from the first byte under a temporary name, then linked into place: never
        # readable by others, and of two processes starting at once the first key wins.
        temporary = data_dir / f".secret_key.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        temporary.unlink()
    return path.read_text().strip()
