"""`ninepic completion bash|zsh` prints a script the shell accepts, covering every command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ninepic_async.cli.main import COMMANDS, main


def script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_the_bash_script_is_valid_and_names_every_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = script("bash", capsys)
    path = tmp_path / "ninepic.bash"
    path.write_text(text)
    subprocess.run(["bash", "-n", str(path)], check=True, capture_output=True, timeout=30)
    for command in [*COMMANDS, "simulate", "completion"]:
        assert command in text, command
    for option in ("--proxy", "--ca-bundle", "--limit-rate", "--profile", "--config"):
        assert option in text, option


def test_bash_completes_a_command_and_an_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "ninepic.bash"
    path.write_text(script("bash", capsys))
    probe = (
        f"source {path}\n"
        'complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; '
        'COMP_POINT=${#COMP_LINE}; _shtab_ninepic; echo "${COMPREPLY[@]}"; }\n'
        "complete_words ninepic dow\n"
        "complete_words ninepic download --limit\n"
    )
    done = subprocess.run(["bash", "-c", probe], check=True, capture_output=True, text=True, timeout=30)
    assert done.stdout.splitlines() == ["download", "--limit-rate"]


def test_the_zsh_script_is_valid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = script("zsh", capsys)
    assert text.startswith("#compdef ninepic")
    zsh = shutil.which("zsh")
    if zsh is None:
        assert not os.environ.get("CI"), "CI installs zsh (.ci/run): the zsh script must be checked there"
        pytest.skip("zsh is not installed: only the script's header is checked")
    path = tmp_path / "_ninepic"
    path.write_text(text)
    subprocess.run([zsh, "-n", str(path)], check=True, capture_output=True, timeout=30)


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "fish"]) == 2
    assert "invalid choice: 'fish'" in capsys.readouterr().err
