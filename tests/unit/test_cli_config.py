"""Config profiles: a TOML file of named profiles whose keys become option defaults, with the
precedence flag > NINEPIC_* variable > profile > built-in default; every bad file is one line
naming it (exit 2)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from ninepic_async._constants import DEFAULT_CONCURRENCY
from ninepic_async.cli.config import apply_config, default_config_path
from ninepic_async.cli.errors import CliError
from ninepic_async.cli.main import main
from ninepic_async.cli.parser import build_parser

PROFILES = """
[default]
org = 11
concurrency = 5

[lab]
org = 22
event = 33
base_url = "https://api.lab.example"
concurrency = 6
limit-rate = "20M"
proxy = "http://proxy.lab.example:3128"
timeout = 7.5
verify = true
"""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    apply_config(parser, argv)
    return parser.parse_args(argv)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ninepic" / "config.toml"
    path.parent.mkdir()
    path.write_text(PROFILES)
    path.chmod(0o600)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return path


def test_the_default_path_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "ninepic" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_config_path() == Path.home() / ".config" / "ninepic" / "config.toml"
    monkeypatch.setenv("NINEPIC_CONFIG", str(tmp_path / "other.toml"))
    assert default_config_path() == tmp_path / "other.toml"


def test_the_default_profile_applies_without_asking(config: Path) -> None:
    args = parse(["download", "--all", "--out", "x"])
    assert (args.org, args.concurrency) == (11, 5)


def test_a_named_profile_sets_every_key(config: Path) -> None:
    args = parse(["download", "--all", "--out", "x", "--profile", "lab"])
    assert (args.org, args.event, args.base_url, args.concurrency) == (22, 33, "https://api.lab.example", 6)
    assert (args.limit_rate, args.proxy, args.timeout, args.verify) == (
        "20M",
        "http://proxy.lab.example:3128",
        7.5,
        True,
    )


def test_the_profile_variable_names_the_profile(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINEPIC_PROFILE", "lab")
    assert parse(["ping"]).org == 22
    assert parse(["ping", "--profile", "default"]).org == 11  # the flag wins over the variable


def test_flag_beats_variable_beats_profile_beats_default(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["download", "--all", "--out", "x", "--profile", "lab"]
    assert parse(base).org == 22  # profile
    monkeypatch.setenv("NINEPIC_ORG_ID", "44")
    assert not hasattr(parse(base), "org")  # the variable is left to speak (Runtime reads it)
    assert parse([*base, "--org", "55"]).org == 55  # flag
    assert parse([*base, "--concurrency", "9"]).concurrency == 9  # flag over profile, no variable
    assert (
        parse(["download", "--all", "--out", "x", "--config", os.devnull]).concurrency == DEFAULT_CONCURRENCY
    )


def test_local_commands_ignore_profiles(config: Path) -> None:
    assert parse(["check", "--out", "x"]).concurrency != 5


def test_no_file_and_no_profile_asked_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert parse(["ping"]).command == "ping"


@pytest.mark.parametrize(
    ("content", "argv", "problem"),
    [
        ("[default\norg = 1", [], "not valid TOML"),
        ("org = 1\n", [], "'org' is outside any profile"),
        ("[default]\norgg = 1\n", [], "profile 'default': unknown key 'orgg'"),
        ("[default]\norg = 'x'\n", [], "profile 'default': org: must be an integer >= 0; got 'x'"),
        ("[default]\nconcurrency = 0\n", [], "concurrency: must be an integer from 1 to"),
        ("[default]\nlimit_rate = '20X'\n", [], "limit_rate: expected bytes per second"),
        ("[default]\nproxy = 'socks5://u:pw@h:1'\n", [], "proxy: must be an http:// or https:// proxy[^@]*$"),
        ("[default]\nca_bundle = 'missing.pem'\n", [], "ca_bundle '.*missing.pem': no such file"),
        ("[default]\nverify = 'yes'\n", [], "verify: must be true or false"),
        ("[default]\n", ["--profile", "nope"], "has no profile 'nope' \\(profiles: default\\)"),
        (b"[default]\nbase_url = '\xff'\n", [], "not UTF-8|not valid TOML"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_it(
    tmp_path: Path, content: str | bytes, argv: list[str], problem: str
) -> None:
    path = tmp_path / "config.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(CliError, match=f"config file {path}.*{problem}"):
        parse(["ping", "--config", str(path), *argv])


def test_a_missing_named_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"config file .*nowhere.toml does not exist"):
        parse(["ping", "--config", str(tmp_path / "nowhere.toml")])


def test_a_profile_without_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(CliError, match=r"config file .*config.toml does not exist"):
        parse(["ping", "--profile", "lab"])


def test_a_bad_config_file_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[default]\nconcurency = 4\n")
    assert main(["ping", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().count("\n") == 0
    assert err.startswith(f"error: config file {path}, profile 'default': unknown key 'concurency'")


def test_a_relative_ca_bundle_is_read_beside_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[default]\nca_bundle = 'corp.pem'\n")
    with pytest.raises(CliError, match=rf"'{tmp_path}/corp.pem': no such file"):
        parse(["ping", "--config", str(path)])


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_a_key_in_a_file_others_can_read_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, warned: bool
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[default]\napi_key = 'profile-key-0123456789'\n")
    path.chmod(mode)
    main(["ping", "--config", str(path), "--org", "1", "--event", "1", "--base-url", "http://127.0.0.1:9",
          "--max-retries", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert ("other users can read it: run `chmod 600" in err) is warned
    assert "profile-key-0123456789" not in err


def test_a_profile_option_without_a_value_is_the_one_line_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ping", "--profile"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --profile: expected one argument (see `ninepic ping --help`)\n"
