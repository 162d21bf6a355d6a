"""Where a source sends its audio: the server's ingest URLs, the bind URL, the AudioSocket port.

One ``--server`` URL names the Voiceline server (``http://host:port``; ``ws://`` works
too, and so does a full ingest URL such as ``ws://host:port/ingest/audiofork``); the
websocket ingest paths, the AudioSocket bind endpoint and the AudioSocket TCP address
follow from it:

- ``ws(s)://HOST:PORT/ingest/audiofork`` and ``/ingest/twilio`` — websocket ingest;
- ``http(s)://HOST:PORT/api/audiosocket/bind`` — ``POST {uuid, seat, agent, channel}``;
- ``HOST:9092`` — Asterisk AudioSocket over TCP (``--audiosocket HOST:PORT`` to change).

Every request carries the ingest token as ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_AUDIOSOCKET_PORT",
    "PROTOCOLS",
    "TOKEN_ENV",
    "Endpoints",
    "SourceError",
    "auth_headers",
    "token_from_env",
]

PROTOCOLS = ("audiofork", "twilio", "audiosocket")
DEFAULT_AUDIOSOCKET_PORT = 9092
TOKEN_ENV = "VOICELINE_INGEST_TOKEN"
INGEST_PREFIX = "/ingest/"
BIND_PATH = "/api/audiosocket/bind"


class SourceError(Exception):
    """A problem retrying cannot fix (a bad URL, a refused token, no microphone).

    The message says what was wrong and what to do; sources stop on it instead of
    reconnecting.
    """


@dataclass(frozen=True)
class Endpoints:
    """The server's addresses for one source.

    Attributes
    ----------
    http_base : str
        ``http(s)://host:port[/prefix]`` without a trailing slash.
    ws_base : str
        The same with ``ws(s)://``.
    audiosocket_host : str
        Host of the AudioSocket TCP listener.
    audiosocket_port : int
        Its port.
    """

    http_base: str
    ws_base: str
    audiosocket_host: str
    audiosocket_port: int

    @classmethod
    def from_server(cls, server: str, *, audiosocket: str | None = None) -> Endpoints:
        """Endpoints from a ``--server`` URL and an optional ``--audiosocket HOST:PORT``.

        Raises
        ------
        SourceError
            If the URL is not http(s)/ws(s) with a host, or ``audiosocket`` is not
            ``HOST:PORT``.
        """
        text = server.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            raise SourceError(
                f"--server {server!r} is not a server URL; give one like http://127.0.0.1:8080"
            )
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise SourceError(f"--server {server!r} has an invalid port") from None
        path = parts.path
        if INGEST_PREFIX in path:  # a full ingest URL: keep what precedes /ingest/
            path = path[: path.index(INGEST_PREFIX)]
        path = path.rstrip("/")
        secure = scheme in ("https", "wss")
        http_base = urlunsplit(("https" if secure else "http", parts.netloc, path, "", ""))
        ws_base = urlunsplit(("wss" if secure else "ws", parts.netloc, path, "", ""))
        host, port = parts.hostname, DEFAULT_AUDIOSOCKET_PORT
        if audiosocket:
            host, port = _host_port(audiosocket, default_host=host)
        return cls(http_base, ws_base, host, port)

    def ingest_url(self, protocol: str) -> str:
        """The websocket URL of ``protocol`` ("audiofork" or "twilio")."""
        if protocol not in ("audiofork", "twilio"):
            raise ValueError(f"no websocket ingest for protocol {protocol!r}")
        return f"{self.ws_base}{INGEST_PREFIX}{protocol}"

    @property
    def bind_url(self) -> str:
        """Where an AudioSocket call UUID is bound to its seat and agent."""
        return f"{self.http_base}{BIND_PATH}"


def _host_port(text: str, *, default_host: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = "", text.strip()
    host = host.strip("[]") or default_host
    if not port.isdecimal() or not 0 < int(port) < 65536:
        raise SourceError(
            f"--audiosocket {text!r} must be HOST:PORT (or PORT), e.g. 127.0.0.1:9092"
        )
    return host, int(port)


def auth_headers(token: str | None) -> dict[str, str]:
    """The ``Authorization`` header carrying the ingest token (none without a token)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def token_from_env(token: str | None) -> str | None:
    """``token`` if given, else ``$VOICELINE_INGEST_TOKEN`` (None when neither is set)."""
    return token or os.environ.get(TOKEN_ENV) or None
