"""The network options of the CLI: --proxy and the proxy variables, --ca-bundle, --insecure and
--limit-rate; each bad value or unusable proxy is one `error:` line."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import conn, run_cli
from helpers.proxy import dead_port, forward_proxy
from helpers.sim import check_dest
from yarl import URL

from ninepic_async.testing import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


async def test_proxy_flag_carries_a_download(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with forward_proxy() as proxy:
        code, _, err = await run_cli(
            capsys, "download", "--all", "--out", str(tmp_path), "--proxy", proxy.url, "--limit-rate", "50M",
            *conn(sim),
        )  # fmt: skip
    assert code == 0, err
    check_dest(sim, tmp_path)
    assert URL(sim.storage_url).raw_authority in proxy.hosts()
    assert URL(sim.base_url).raw_authority in proxy.hosts()


async def test_a_dead_proxy_in_the_environment_is_one_line(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = dead_port()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
    code, _, err = await run_cli(capsys, "ping", "--max-retries", "0", *conn(sim))
    assert code == 4
    line = one_error_line(err)
    assert f"proxy http://127.0.0.1:{port} failed: cannot connect to it" in line
    assert "check --proxy (or HTTPS_PROXY/HTTP_PROXY; NO_PROXY" in line


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--proxy", ""], "--proxy is empty"),
        (["--proxy", "socks5://127.0.0.1:1080"], "--proxy must be an http:// or https:// proxy URL"),
        (["--ca-bundle", "/nonexistent/corp.pem"], "--ca-bundle '/nonexistent/corp.pem': no such file"),
        (["--ca-bundle", "x.pem", "--insecure"], "--insecure turns certificate checks off, and a CA bundle"),
    ],
)
async def test_bad_network_options_are_one_line_and_exit_2(
    sim: Simulator, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    code, _, err = await run_cli(capsys, "ping", *argv, *conn(sim))
    assert code == 2
    assert problem in one_error_line(err)
    assert sim.counters.api_requests == 0


async def test_a_bad_proxy_variable_is_named(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    code, _, err = await run_cli(capsys, "ping", *conn(sim))
    assert code == 2
    assert "$HTTPS_PROXY must be an http:// or https:// proxy URL" in one_error_line(err)


@pytest.mark.parametrize("rate", ["20X", "0", "-1M", "fast"])
async def test_a_bad_limit_rate_is_one_line_and_exit_2(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], rate: str
) -> None:
    code, _, err = await run_cli(
        capsys, "download", "--all", "--out", str(tmp_path / "d"), f"--limit-rate={rate}", *conn(sim)
    )
    assert code == 2
    assert one_error_line(err).startswith(f"error: --limit-rate {rate!r}: ")
    assert sim.counters.api_requests == 0
    assert not (tmp_path / "d").exists()


async def test_insecure_warns_once_per_run(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run_cli(
        capsys, "download", "--all", "--out", str(tmp_path), "--insecure", *conn(sim)
    )
    assert code == 0, err
    assert err.count("verification is OFF") == 1


async def test_insecure_warns_even_with_quiet(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["download", "--all", "--out", str(tmp_path), "--insecure", "-q", *conn(sim)]
    code, _, err = await run_cli(capsys, *argv)
    assert code == 0, err
    assert err.count("verification is OFF") == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("warning: TLS certificate verification is OFF"), err  # the CLI's own style


async def test_the_demo_never_sends_its_local_simulator_through_a_proxy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port()}")
    code, _, err = await run_cli(capsys, "demo", "--out", str(tmp_path), "--photos", "5")
    assert code == 0, err
