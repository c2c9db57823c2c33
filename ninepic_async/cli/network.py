"""The network options of a command (--proxy, --ca-bundle, --insecure, --limit-rate), checked
before anything is sent: each problem is one :class:`CliError` line naming the option or the
variable (exit 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigurationError
from .._network import NetworkOptions, load_ca_bundle, parse_proxy_url
from ..download.bandwidth import parse_rate
from .errors import CliError

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["client_network", "limit_rate_bps"]


def client_network(rt: Runtime) -> dict[str, Any]:
    """The NinePicClient keywords of --proxy, --ca-bundle and --insecure (or the profile's)."""
    proxy = rt.opt("proxy")
    ca_bundle = rt.opt("ca_bundle")
    insecure = bool(rt.opt("insecure"))
    if proxy is not None:
        if not proxy.strip():
            raise CliError("--proxy is empty: give a proxy URL like http://proxy.example:3128")
        try:
            parse_proxy_url(proxy, "--proxy")
        except ConfigurationError as exc:
            raise CliError(str(exc)) from None
    if ca_bundle is not None:
        if insecure:
            raise CliError(
                "--insecure turns certificate checks off, and a CA bundle (--ca-bundle or the profile's "
                "ca_bundle) says whom to trust: give one of them"
            )
        if not ca_bundle.strip():
            raise CliError("--ca-bundle is empty: give the path of a PEM file of CA certificates")
        try:
            load_ca_bundle(ca_bundle, "--ca-bundle")
        except ConfigurationError as exc:
            raise CliError(str(exc)) from None
    try:
        NetworkOptions(proxy=proxy).resolve()  # the proxy variables, read now to name a bad one
    except ConfigurationError as exc:
        raise CliError(str(exc)) from None
    network: dict[str, Any] = {"proxy": proxy, "ca_bundle": ca_bundle}
    if insecure:
        network["verify_ssl"] = False
    return network


def limit_rate_bps(rt: Runtime) -> float | None:
    """--limit-rate as bytes per second, or None when not given."""
    text = rt.opt("limit_rate")
    if text is None:
        return None
    try:
        return parse_rate(str(text))
    except ValueError as exc:
        raise CliError(f"--limit-rate {text!r}: {exc}") from None
