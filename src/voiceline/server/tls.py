"""Serving over TLS, behind a proxy, and the headers every HTTP response carries.

A hotline's console carries passwords, recordings and people's names, so it is served
over HTTPS wherever it leaves the machine: either by the server itself (``[server]
tls_certfile`` and ``tls_keyfile``, or ``voiceline serve --tls-cert --tls-key``: the
HTTP port and the lean ingest port then speak TLS, ``https://`` and ``wss://``), or by
a proxy in front of it (nginx, HAProxy, a load balancer) that forwards to the
loopback. Behind a proxy every connection comes from the proxy's address, so the
client's own address, which the sign-in throttle counts by and the audit log records,
is read from ``X-Forwarded-For`` when the connection comes from an address in
``[server] forwarded_allow_ips`` (uvicorn's proxy-headers rule; 127.0.0.1 by default).

AudioSocket has no TLS in its protocol: keep that port on the PBX's network or the
loopback.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

#: TLS 1.2 cipher suites offered: forward secrecy and authenticated encryption only
#: (TLS 1.3 has its own, all of that kind). uvicorn's own default ("TLSv1") would offer
#: the old CBC suites instead.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

#: One year: browsers then refuse plain HTTP to this host for that long.
HSTS_MAX_AGE_S = 365 * 24 * 3600

#: The console's pages load only their own scripts, styles, media and sockets. Styles
#: may be inline because a report's body (rendered and escaped by the server) carries
#: its own; no page has inline script. Frames are refused (the console is never framed).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

#: Paths served with the API's own documentation page (it loads its scripts from a CDN).
_NO_CSP_PATHS = ("/api/docs",)


class TLSError(ValueError):
    """The certificate or key cannot be used; the message says which and why."""


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) from PEM files.

    Raises
    ------
    TLSError
        A file is missing or unreadable, is not PEM, or the key does not match the
        certificate.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    # Each file checked by name first: OpenSSL's own errors name neither (a missing key
    # was reported as the certificate, an encrypted one as "Invalid argument").
    for what, path in (("certificate", certfile), ("key", keyfile or certfile)):
        try:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
        except FileNotFoundError:
            raise TLSError(f"no such file: {path} (the {what})") from None
        except PermissionError:
            raise TLSError(f"cannot read {path} (the {what}): permission denied") from None
        except IsADirectoryError:
            raise TLSError(f"{path} (the {what}) is a directory, not a PEM file") from None
        except OSError as exc:
            raise TLSError(f"cannot read {path} (the {what}): {exc.strerror}") from None
        if what == "key" and (b"ENCRYPTED PRIVATE KEY" in head or b"Proc-Type: 4,ENCRYPTED"
                              in head):
            raise TLSError(f"the key {path} is encrypted with a passphrase; the server starts "
                           f"unattended, so give it the key decrypted (openssl pkey -in {path} "
                           "-out KEY, then keep KEY readable by this account only)")
    try:
        # never a passphrase prompt on the terminal of a server
        context.load_cert_chain(certfile, keyfile, password=_no_passphrase)
    except OSError as exc:
        if not isinstance(exc, ssl.SSLError):  # vanished or changed since the check
            raise TLSError(f"cannot read {certfile} / {keyfile}: {exc}") from None
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(exc).upper():
            raise TLSError(f"the key {keyfile} does not belong to the certificate "
                           f"{certfile}") from None
        raise TLSError(f"{certfile} / {keyfile} are not a PEM certificate chain and its "
                       f"private key ({reason})") from None
    return context


def _no_passphrase() -> bytes:
    raise TLSError("the key is encrypted with a passphrase; give the server the key "
                   "decrypted (openssl pkey -in KEY -out PLAIN)")


def check_forwarded_allow_ips(value: str) -> str | None:
    """None if ``value`` is a valid ``forwarded_allow_ips``, else the problem.

    The value is a comma-separated list of IP addresses and networks (CIDR), ``*`` for
    every address, or empty for none.
    """
    items = forwarded_allow_list(value)
    if "*" in items and len(items) > 1:
        return "forwarded_allow_ips: \"*\" trusts every address; list nothing beside it"
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item)  # strict: 10.0.0.1/8 would trust nothing
        except ValueError:
            return (f"forwarded_allow_ips: {item!r} is not an IP address or network "
                    "(a comma-separated list such as \"127.0.0.1, 10.0.0.0/8\"; \"*\" "
                    "trusts every address, \"\" none)")
    return None


def forwarded_allow_list(value: str) -> list[str]:
    """The items of a ``forwarded_allow_ips`` value, as uvicorn takes them."""
    return [item.strip() for item in value.split(",") if item.strip()]


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: the headers every HTTP response carries.

    - ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: DENY``;
    - ``Referrer-Policy: same-origin``: playback URLs carry an audio token, and no page
      should hand its address to another site (the console's own pages still see where
      they came from: a call page goes back to the queue with its filters);
    - ``Content-Security-Policy`` (:data:`CONTENT_SECURITY_POLICY`) on the console's pages;
    - ``Cache-Control: no-store`` on the API's answers (personal data, no copies kept
      in shared caches or on the disk of a shared workstation), unless a route set its
      own;
    - ``Strict-Transport-Security`` when the request came over HTTPS (served with TLS,
      or forwarded as ``https`` by a trusted proxy).
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"x-frame-options", b"DENY"),
                         (b"referrer-policy", b"same-origin")]
                if not path.startswith(_NO_CSP_PATHS):
                    extra.append((b"content-security-policy",
                                  CONTENT_SECURITY_POLICY.encode()))
                if path.startswith("/api/") and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                if secure:
                    extra.append((b"strict-transport-security",
                                  f"max-age={HSTS_MAX_AGE_S}".encode()))
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
