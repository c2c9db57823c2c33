"""Named profiles from a TOML config file, applied as option defaults before argv is parsed.

The file (``$NINEPIC_CONFIG``, else ``$XDG_CONFIG_HOME/ninepic/config.toml``, else
``~/.config/ninepic/config.toml``; ``--config FILE`` overrides) holds one table per profile::

    [default]                     # used when no --profile / $NINEPIC_PROFILE names another
    org = 903
    concurrency = 16

    [lab]
    base_url = "https://api.lab.example"
    proxy = "http://proxy.lab.example:3128"
    ca_bundle = "lab-ca.pem"      # relative to the config file's folder
    limit_rate = "20M"

Precedence, per setting: command-line flag > ``NINEPIC_*`` variable > profile > built-in
default. A profile value becomes the default of its option, so the parser applies the first
and the commands the rest unchanged. Every problem is one :class:`CliError` line naming the
file (exit 2).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from .._constants import CLI_MAX_CONCURRENCY, ENV_API_KEY, ENV_BASE_URL, ENV_EVENT_ID, ENV_ORG_ID
from .._exceptions import ConfigurationError, register_secret
from .._network import load_ca_bundle, parse_proxy_url
from ..download.bandwidth import parse_rate
from .errors import CliError

__all__ = ["ENV_CONFIG", "ENV_PROFILE", "PROFILE_KEYS", "Profile", "apply_config", "default_config_path"]

ENV_CONFIG = "NINEPIC_CONFIG"
ENV_PROFILE = "NINEPIC_PROFILE"
DEFAULT_PROFILE = "default"
_LOCAL_COMMANDS = frozenset({"check", "simulate", "completion"})
"""Commands a profile does not reach (they work on local files or serve locally)."""
_SECRET_KEYS = frozenset({"api_key", "proxy"})
"""Keys whose value is never echoed in an error (a proxy URL may hold a password)."""


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _integer(minimum: int, maximum: int | None = None) -> Callable[[object], int]:
    def check(value: object) -> int:
        within = maximum is None or (isinstance(value, int) and value <= maximum)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or not within:
            span = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise ValueError(f"must be an integer {span}")
        return value

    return check


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError("must be a number of seconds > 0")
    return float(value)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _rate(value: object) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else _text(value)
    parse_rate(text)
    return text


def _proxy(value: object) -> str:
    text = _text(value)
    try:
        parse_proxy_url(text, "proxy")
    except ConfigurationError as exc:
        raise ValueError(str(exc).removeprefix("proxy ").split("; got")[0]) from None
    return text


@dataclass(frozen=True)
class _Key:
    """One profile key: the option it stands for, its check, the variable that outranks it."""

    dest: str
    check: Callable[[object], Any]
    env: str | None = None


PROFILE_KEYS: dict[str, _Key] = {
    "base_url": _Key("base_url", _text, ENV_BASE_URL),
    "org": _Key("org", _integer(0), ENV_ORG_ID),
    "event": _Key("event", _integer(0), ENV_EVENT_ID),
    "api_key": _Key("api_key", _text, ENV_API_KEY),
    "timeout": _Key("timeout", _seconds),
    "max_retries": _Key("max_retries", _integer(0)),
    "max_rate_limit_retries": _Key("max_rate_limit_retries", _integer(0)),
    "proxy": _Key("proxy", _proxy),
    "ca_bundle": _Key("ca_bundle", _text),
    "concurrency": _Key("concurrency", _integer(1, CLI_MAX_CONCURRENCY)),
    "limit_rate": _Key("limit_rate", _rate),
    "verify": _Key("verify", _boolean),
    "low_speed_limit": _Key("low_speed_limit", _integer(0)),
    "low_speed_time": _Key("low_speed_time", _seconds),
}
"""Every key a profile may hold (``-`` may be written for ``_``), by its option's name."""


@dataclass
class Profile:
    """The profile in use: where it came from and its checked values, by option name."""

    path: Path
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def default_config_path() -> Path:
    """``$NINEPIC_CONFIG``, else ``$XDG_CONFIG_HOME/ninepic/config.toml`` (``~/.config`` by default)."""
    explicit = os.environ.get(ENV_CONFIG, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "ninepic" / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"config file {path}: not valid TOML: {exc}") from None
    except IsADirectoryError:
        raise CliError(f"config file {path} is a directory") from None
    except OSError as exc:
        raise CliError(f"config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"config file {path}: not UTF-8 text") from None
    return data


def load_profile(path: Path, name: str | None, *, required: bool) -> Profile | None:
    """The checked profile ``name`` (or ``default`` when None) of the file at ``path``.

    None when nothing is asked for and the file or its ``default`` table does not exist.
    """
    if not path.exists():
        if required:
            raise CliError(f"config file {path} does not exist")
        return None
    data = _read_toml(path)
    loose = sorted(k for k, v in data.items() if not isinstance(v, dict))
    if loose:
        raise CliError(
            f"config file {path}: {loose[0]!r} is outside any profile; put settings under a table "
            f"such as [{DEFAULT_PROFILE}]"
        )
    chosen = name or DEFAULT_PROFILE
    table = data.get(chosen)
    if table is None:
        if name is None:
            return None
        known = ", ".join(sorted(data)) or "none"
        raise CliError(f"config file {path} has no profile {chosen!r} (profiles: {known})")
    profile = Profile(path=path, name=chosen)
    where = f"config file {path}, profile {chosen!r}"
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        spec = PROFILE_KEYS.get(key)
        if spec is None:
            raise CliError(f"{where}: unknown key {raw_key!r} (known: {', '.join(PROFILE_KEYS)})")
        try:
            checked = spec.check(value)
        except ValueError as exc:
            shown = "" if key in _SECRET_KEYS else f"; got {value!r}"
            raise CliError(f"{where}: {raw_key}: {exc}{shown}") from None
        if key == "ca_bundle":
            checked = str((path.parent / Path(checked).expanduser()).resolve())
            try:
                load_ca_bundle(checked, f"{where}: ca_bundle")
            except ConfigurationError as exc:
                raise CliError(str(exc)) from None
        if key == "api_key":
            register_secret(checked)
            if _readable_by_others(path):
                profile.warnings.append(
                    f"config file {path} holds an API key and other users can read it: run "
                    f"`chmod 600 {path}`, or keep the key in ${ENV_API_KEY} instead"
                )
        profile.values[spec.dest] = checked
    return profile


def _readable_by_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


class _Unparsable(Exception):
    """argv that the real parser will refuse (and explain) anyway."""


class _PreParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Unparsable(message)


def _preparse(argv: Sequence[str]) -> argparse.Namespace:
    """Only ``--config`` and ``--profile`` from ``argv`` (wherever they are)."""
    pre = _PreParser(add_help=False)
    pre.add_argument("--config", default=None)
    pre.add_argument("--profile", default=None)
    pre.add_argument("command", nargs="?")
    try:
        known, _ = pre.parse_known_args(list(argv))
    except _Unparsable:  # e.g. --profile without a value: the real parser says so, in its words
        return argparse.Namespace(config=None, profile=None, command=None)
    return known


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every (sub)subcommand parser below it, but not the local commands'."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if name not in _LOCAL_COMMANDS:
                    found.extend(_parsers(child))
    return found


def apply_config(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Profile | None:
    """Load the profile ``argv`` (or ``$NINEPIC_PROFILE``, else ``default``) asks for and make its
    values the defaults of their options, except where a ``NINEPIC_*`` variable is set."""
    early = _preparse(argv)
    if early.command in _LOCAL_COMMANDS:
        return None
    if early.config is not None and not early.config.strip():
        raise CliError("--config is empty: give the path of a TOML config file")
    if early.profile is not None and not early.profile.strip():
        raise CliError("--profile is empty: give a profile name")
    name = early.profile or os.environ.get(ENV_PROFILE, "").strip() or None
    explicit_file = early.config is not None or bool(os.environ.get(ENV_CONFIG, "").strip())
    path = Path(early.config).expanduser() if early.config is not None else default_config_path()
    profile = load_profile(path, name, required=explicit_file or name is not None)
    if profile is None:
        return None
    values = {
        dest: value
        for dest, value in profile.values.items()
        if not (PROFILE_KEYS[dest].env and os.environ.get(PROFILE_KEYS[dest].env or "", "").strip())
    }
    for each in _parsers(parser):
        for action in each._actions:
            if action.dest in values:
                action.default = values[action.dest]
    return profile
