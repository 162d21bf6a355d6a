"""What a route may take: who is calling and may they, and the checked forms of its input.

Routes declare what they need in their signature (``user: Supervisor``, ``alert_id:
AlertId``, ``name: Name``) and never check tokens or ids themselves. Session tokens
come from ``POST /api/login``; ingest tokens from ``POST /api/ingest-tokens`` or
``voiceline user token --ingest LABEL``. Both are sent as ``Authorization: Bearer
<token>``.

Input a client can get wrong is refused before a route runs: an id no row can have is
404 like any unknown one; a name, label or id with a NUL character is 422. The app
answers every 422 with :func:`validation_errors`, which never echo what cannot be
rendered as JSON (NaN, a lone surrogate: ``"\\ud800"`` in JSON) nor more than a short
excerpt of the input.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from voiceline.auth import AccessDenied, IngestClient, User, require_role
from voiceline.store.values import MAX_INTEGER, storable

STAFF = ("admin", "supervisor", "qa")
HANDLERS = ("admin", "supervisor")
_BEARER = {"WWW-Authenticate": "Bearer"}


def get_service(request: Request) -> Any:
    return request.app.state.service


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def check_token(service: Any, token: str | None, kind: str) -> User | IngestClient | None:
    """Who holds ``token`` (looked up in the store thread), or None."""
    if not token:
        return None
    return await service.worker.call(service.auth.check_token, token, kind)


async def current_user(request: Request) -> User:
    """The signed-in user of a request; 401 without a valid session token."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise HTTPException(401, "sign in first: send 'Authorization: Bearer <token>' with "
                                 "the token POST /api/login returns", headers=_BEARER)
    user = await check_token(get_service(request), token, "session")
    if user is None:
        raise HTTPException(401, "the session token is unknown, expired or revoked; sign in "
                                 "again", headers=_BEARER)
    return user


async def ingest_client(request: Request) -> IngestClient:
    """The holder of an ingest token; 401 otherwise."""
    token = bearer_token(request.headers.get("authorization"))
    client = await check_token(get_service(request), token, "ingest")
    if client is None:
        raise HTTPException(401, "this needs an ingest token ('Authorization: Bearer "
                                 "<token>'); an admin issues one with POST /api/ingest-tokens",
                            headers=_BEARER)
    return client


async def metrics_reader(request: Request) -> User | IngestClient:
    """An admin or supervisor session, or any ingest token (for a Prometheus scraper)."""
    token = bearer_token(request.headers.get("authorization"))
    service = get_service(request)
    who = await check_token(service, token, "ingest") or await check_token(service, token,
                                                                             "session")
    if who is None:
        raise HTTPException(401, "metrics need a token: an ingest token for a scraper, or "
                                 "an admin's session", headers=_BEARER)
    if isinstance(who, User):
        _require(who, HANDLERS)
    return who


def _require(user: User, roles: tuple[str, ...]) -> User:
    try:
        return require_role(user, *roles)
    except AccessDenied as exc:
        raise HTTPException(403, str(exc)) from None


def require(*roles: str):
    """A dependency that lets through only users of ``roles`` (403 for others)."""

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        return _require(user, roles)

    return dependency


# -- checked input ---------------------------------------------------------------------------

#: A 422 answer repeats at most this much of each offending value.
MAX_ECHO_CHARS = 120


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("names, labels and ids must not contain NUL characters")
    return value


#: A name, label or id: text without NUL characters (pydantic refuses lone surrogates).
Name = Annotated[str, AfterValidator(_no_nul)]


def _row_id(value: int, what: str) -> int:
    if not 1 <= value <= MAX_INTEGER:
        raise HTTPException(404, f"no {what} with id {value}")
    return value


async def _alert_id(alert_id: int) -> int:
    return _row_id(alert_id, "alert")


async def _flag_id(flag_id: int) -> int:
    return _row_id(flag_id, "flag")


#: The ``{alert_id}`` of a path; one below 1 or beyond SQLite's integers is 404.
AlertId = Annotated[int, Depends(_alert_id)]
#: The ``{flag_id}`` of a path; one below 1 or beyond SQLite's integers is 404.
FlagId = Annotated[int, Depends(_flag_id)]


def _echo(value: Any, max_chars: int = MAX_ECHO_CHARS) -> Any:
    """``value`` as a 422 answer may repeat it, or ``None`` to leave it out: short text
    (unencodable characters escaped), finite numbers, the names of non-finite ones."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_INTEGER else None
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, BaseException):
        value = str(value)
    if not isinstance(value, str):
        return None  # objects and lists can be as large as the body
    value = storable(value)
    return value if len(value) <= max_chars else value[:max_chars] + "..."


#: Errors about the length of a text: they name the limit and the length, never the text
#: (the first 120 characters of a QA note over the limit came back in its 422).
LENGTH_ERRORS = frozenset({"string_too_long", "string_too_short", "bytes_too_long",
                           "bytes_too_short"})


def validation_errors(exc: RequestValidationError) -> list[dict]:
    """Pydantic's errors of a request, each reduced to what renders as strict JSON."""
    out = []
    for error in exc.errors():
        item = {"type": error.get("type"),
                "loc": [_echo(part) for part in error.get("loc", ())],
                "msg": _echo(str(error.get("msg", "")), 4 * MAX_ECHO_CHARS)}
        value, ctx = error.get("input"), dict(error.get("ctx") or {})
        if item["type"] in LENGTH_ERRORS and isinstance(value, str | bytes):
            item["msg"] += f", not {len(value)}"
            ctx["actual_length"] = len(value)
        elif (shown := _echo(value)) is not None:
            item["input"] = shown
        ctx = {key: shown for key, part in ctx.items() if (shown := _echo(part)) is not None}
        if ctx:
            item["ctx"] = ctx
        out.append(item)
    return out


SignedIn = Annotated[User, Depends(current_user)]
Staff = Annotated[User, Depends(require(*STAFF))]
Handler = Annotated[User, Depends(require(*HANDLERS))]
Admin = Annotated[User, Depends(require("admin"))]
Ingest = Annotated[IngestClient, Depends(ingest_client)]
MetricsReader = Annotated[Any, Depends(metrics_reader)]
ServiceDep = Annotated[Any, Depends(get_service)]
