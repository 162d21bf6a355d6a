"""Authentication as dependencies: who is calling, and may they.

Routes declare what they need in their signature (``user: Supervisor``) and never
check tokens themselves. Session tokens come from ``POST /api/login``; ingest tokens
from ``POST /api/ingest-tokens`` or ``voiceline user token --ingest LABEL``. Both are
sent as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from voiceline.auth import AccessDenied, IngestClient, User, require_role

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


SignedIn = Annotated[User, Depends(current_user)]
Staff = Annotated[User, Depends(require(*STAFF))]
Handler = Annotated[User, Depends(require(*HANDLERS))]
Admin = Annotated[User, Depends(require("admin"))]
Ingest = Annotated[IngestClient, Depends(ingest_client)]
MetricsReader = Annotated[Any, Depends(metrics_reader)]
ServiceDep = Annotated[Any, Depends(get_service)]
