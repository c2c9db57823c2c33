"""How both sessions (API and storage) reach their hosts: proxy per URL, TLS trust.

:class:`NetworkOptions` is what the caller says; :meth:`NetworkOptions.resolve` reads the
environment once and loads the CA bundle, giving the :class:`Network` that every request
consults. Like curl, requests and httpx (and unlike aiohttp's default), the environment's
``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` are honoured unless ``trust_env=False``; unlike
aiohttp's ``trust_env``, ``~/.netrc`` is never read (its credentials would be sent to the
storage host).
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass, field

from yarl import URL

from ._exceptions import ConfigurationError, register_secret

__all__ = ["Network", "NetworkOptions", "load_ca_bundle", "parse_proxy_url", "proxy_display"]

log = logging.getLogger(__name__)

_PROXY_SCHEMES = frozenset({"http", "https"})
CaBundle = str | os.PathLike[str] | ssl.SSLContext


def proxy_display(proxy: URL) -> str:
    """The proxy's URL without its credentials (for messages and logs)."""
    return str(proxy.with_user(None)) if proxy.host else str(proxy)


def parse_proxy_url(text: str, source: str) -> URL:
    """A proxy URL (``http://host:port``, credentials allowed); ConfigurationError names ``source``."""
    raw = text.strip()
    if "://" not in raw:
        raw = "http://" + raw  # curl's default scheme for a bare host:port
    try:
        url = URL(raw)
        url.port  # noqa: B018 - a bad port raises here
    except (TypeError, ValueError):
        raise ConfigurationError(f"{source} is not a proxy URL: {text!r}") from None
    if url.scheme not in _PROXY_SCHEMES or not url.host:
        raise ConfigurationError(
            f"{source} must be an http:// or https:// proxy URL (host[:port]); got {proxy_display(url)!r}"
        )
    if url.password:
        register_secret(url.password)
    return url


def load_ca_bundle(bundle: str | os.PathLike[str], name: str = "ca_bundle") -> ssl.SSLContext:
    """A verifying context that trusts only the CAs of the PEM file ``bundle``; ConfigurationError
    (``name`` and the path first) when the file is missing or holds no certificate."""
    path = os.fspath(bundle)
    try:
        return ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise ConfigurationError(f"{name} {path!r}: no such file") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{name} {path!r} is a directory, not a PEM file") from None
    except (ssl.SSLError, ValueError) as exc:  # before OSError: SSLError is one
        reason = getattr(exc, "reason", None) or exc
        raise ConfigurationError(f"{name} {path!r} holds no usable PEM certificate ({reason})") from None
    except OSError as exc:
        raise ConfigurationError(f"{name} {path!r}: {exc.strerror or exc}") from None


@dataclass(frozen=True, slots=True)
class NetworkOptions:
    """How the API session and the storage session reach the network (validated on creation).

    - ``proxy``: one proxy URL for every request (``http://[user:pass@]host:port``), like
      curl's ``--proxy``; hosts matched by ``NO_PROXY`` still go direct (curl does the same).
    - ``trust_env``: honour ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (either case; curl's
      names). Default True, as curl, requests and httpx do; ``~/.netrc`` is never read.
    - ``ca_bundle``: trust these CAs instead of the system's (a PEM file path or an
      ``ssl.SSLContext``), like curl's ``--cacert``. Without it, OpenSSL's defaults apply
      (``SSL_CERT_FILE``/``SSL_CERT_DIR`` included).
    - ``verify_ssl``: False skips certificate checks on both sessions; a warning is logged
      for each client (and each download run given options of its own).

    The environment and the CA file are read once, on first use (:meth:`resolve`).
    """

    proxy: str | None = None
    trust_env: bool = True
    ca_bundle: CaBundle | None = None
    verify_ssl: bool = True
    _resolved: Network | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.proxy is not None:
            if not isinstance(self.proxy, str) or not self.proxy.strip():
                raise ConfigurationError(f"proxy must be a non-empty URL string; got {self.proxy!r}")
            parse_proxy_url(self.proxy, "proxy")
        if self.ca_bundle is not None and not isinstance(self.ca_bundle, (str, os.PathLike, ssl.SSLContext)):
            raise ConfigurationError(
                f"ca_bundle must be a file path or an ssl.SSLContext; got {type(self.ca_bundle).__name__}"
            )
        if self.ca_bundle is not None and not self.verify_ssl:
            raise ConfigurationError("give ca_bundle or verify_ssl=False, not both")

    def __repr__(self) -> str:
        proxy = None if self.proxy is None else proxy_display(parse_proxy_url(self.proxy, "proxy"))
        return (
            f"NetworkOptions(proxy={proxy!r}, trust_env={self.trust_env}, "
            f"ca_bundle={self.ca_bundle!r}, verify_ssl={self.verify_ssl})"
        )

    def resolve(self) -> Network:
        """Read the proxy variables (when trusted) and load the CA bundle, once; ConfigurationError
        naming the file or variable when one is unusable."""
        if self._resolved is None:
            object.__setattr__(self, "_resolved", self._resolve())
        assert self._resolved is not None
        return self._resolved

    def _resolve(self) -> Network:
        explicit = None if self.proxy is None else parse_proxy_url(self.proxy, "proxy")
        env_proxies: dict[str, URL] = {}
        bypass: dict[str, str] = {}
        if self.trust_env:
            from urllib.request import getproxies_environment  # not at import: it loads http.client

            found = getproxies_environment()
            for scheme in ("http", "https"):
                if found.get(scheme):
                    env_proxies[scheme] = parse_proxy_url(found[scheme], f"${scheme.upper()}_PROXY")
            if found.get("no"):
                bypass["no"] = found["no"]
        if not self.verify_ssl:
            log.warning(
                "TLS certificate verification is OFF (verify_ssl=False) for the API and storage: "
                "anyone on the network path can read or alter the traffic, the API key included"
            )
        return Network(
            ssl=self._ssl(),
            explicit_proxy=explicit,
            env_proxies=env_proxies,
            no_proxy=bypass,
        )

    def _ssl(self) -> bool | ssl.SSLContext:
        if not self.verify_ssl:
            return False
        bundle = self.ca_bundle
        if bundle is None:
            return True
        if isinstance(bundle, ssl.SSLContext):
            return bundle
        return load_ca_bundle(bundle)


@dataclass(frozen=True, slots=True)
class Network:
    """Resolved network settings: the ``ssl`` value for aiohttp and the proxy for each URL."""

    ssl: bool | ssl.SSLContext = True
    explicit_proxy: URL | None = field(default=None, repr=False)  # may hold credentials
    env_proxies: dict[str, URL] = field(default_factory=dict, repr=False)
    no_proxy: dict[str, str] = field(default_factory=dict)

    def proxy_for(self, url: URL) -> URL | None:
        """The proxy to send a request for ``url`` through, or None to go direct."""
        proxy = self.explicit_proxy or self.env_proxies.get(url.scheme)
        if proxy is None:
            return None
        if self.no_proxy and url.host:
            from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

            # host:port, so NO_PROXY may list either the host or one port of it
            if proxy_bypass_environment(f"{url.raw_host}:{url.port}", self.no_proxy):
                return None
        return proxy
