"""Websocket routes: telephony ingest and the supervisors' alert feed.

Ingest (``/ingest/audiofork``, ``/ingest/twilio``) needs an ingest token, as
``Authorization: Bearer <token>`` or ``?token=<token>`` (FreeSWITCH's audio fork and
Twilio's ``<Stream url>`` cannot set headers); without one the handshake is refused
with HTTP 401. Tokens in query strings are blanked in the server's logs.

The alert feed (``/ws/alerts``) needs a session of role admin, supervisor or qa, given
as ``?token=`` or, better (it stays out of URLs), as the first message::

    {"type": "auth", "token": "<session token>", "since": 1234}

``since`` (also ``?since=``) is the last alert event id the client saw; every event
after it follows, then the live feed. The message formats are in
:mod:`voiceline.server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from voiceline.auth import User
from voiceline.server import alert_log
from voiceline.server.dashboards import (
    MAX_REQUEST_ID_CHARS,
    Dashboard,
    Outgoing,
    echoable,
    parse_message,
)
from voiceline.server.deps import HANDLERS, STAFF, bearer_token, check_token
from voiceline.server.ingest import (
    CLOSE_POLICY,
    TOKEN_REQUIRED,
    IngestConnection,
    close_reason,
    note_refused,
)
from voiceline.server.service import SHUTDOWN_REASON
from voiceline.store import ConflictError, InvalidInputError, NotFoundError

router = APIRouter()
log = logging.getLogger("voiceline.server")
AUTH_TIMEOUT_S = 10.0
AUTH_FIRST = 'the first message must be {"type": "auth", "token": ..., "since": ...}'
CLOSE_SERVER_RESTART = 1012
CLOSE_INVALID_DATA = 1007  # a text message that is not UTF-8 (run.WebSocketProtocol)


def _peer(ws: WebSocket) -> str:
    return f"{ws.client.host}:{ws.client.port}" if ws.client else "?"


# -- ingest -------------------------------------------------------------------------------

async def _ingest(ws: WebSocket, protocol: str) -> None:
    service = ws.app.state.service
    token = bearer_token(ws.headers.get("authorization")) or ws.query_params.get("token")
    client = await check_token(service, token, "ingest")
    if client is None:
        note_refused(service, protocol, _peer(ws), token)
        await ws.send_denial_response(JSONResponse({"detail": TOKEN_REQUIRED},
                                                   status_code=401))
        return
    await ws.accept()
    conn = IngestConnection(service, protocol, _peer(ws), client.label,
                            token_id=client.token_id)
    reason = "connection closed by the peer"
    try:
        while True:
            try:
                async with asyncio.timeout(max(conn.patience_s(), 0.0)):
                    message = await ws.receive()
            except TimeoutError:  # no call started, or no data, in time (:mod:`.limits`)
                reason = conn.overdue()
                with contextlib.suppress(OSError, RuntimeError):
                    await ws.close(CLOSE_POLICY, close_reason(reason))
                break
            if message["type"] == "websocket.disconnect":
                if message.get("code") == CLOSE_SERVER_RESTART:  # uvicorn is shutting down
                    reason = SHUTDOWN_REASON
                elif message.get("code") == CLOSE_INVALID_DATA and message.get("reason"):
                    reason = f"websocket error: {message['reason']}"  # as the lean port says
                break
            if message.get("text") is not None:
                events = conn.receive_text(message["text"])
            else:
                events = conn.receive_bytes(message.get("bytes") or b"")
            fatal = await conn.handle(events)
            if fatal:
                reason = f"protocol error: {fatal}"
                with contextlib.suppress(OSError, RuntimeError):  # unless it has gone already
                    await ws.close(CLOSE_POLICY, close_reason(fatal))
                break
    except WebSocketDisconnect:
        pass
    finally:
        await conn.close(reason)


@router.websocket("/ingest/audiofork")
async def ingest_audiofork(ws: WebSocket) -> None:
    await _ingest(ws, "audiofork")


@router.websocket("/ingest/twilio")
async def ingest_twilio(ws: WebSocket) -> None:
    await _ingest(ws, "twilio")


# -- the alert feed -----------------------------------------------------------------------

async def _authenticate(ws: WebSocket, service: Any) -> tuple[User | None, Any, str, str]:
    """The session user, ``since`` and token of a dashboard, or None and why not.

    Raises ``WebSocketDisconnect`` if the client leaves before authenticating.
    """
    token = ws.query_params.get("token")
    since: Any = ws.query_params.get("since")
    if token is None:
        try:
            first = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
        except TimeoutError:
            return None, since, "", f"no auth message within {AUTH_TIMEOUT_S:g} s"
        except KeyError:  # a binary message
            return None, since, "", AUTH_FIRST
        hello, problem = parse_message(first)
        if hello is None or hello["type"] != "auth":
            return None, since, "", f"{problem}; {AUTH_FIRST}" if problem else AUTH_FIRST
        token = hello.get("token")
        since = hello.get("since", since)
    token = token if isinstance(token, str) else ""
    user = await check_token(service, token, "session")
    if user is None:
        return None, since, "", "the session token is unknown, expired or revoked; sign in again"
    if user.role not in STAFF:
        return None, since, "", (f"user {user.name!r} has role {user.role!r}; the live wall "
                                 f"needs role {' or '.join(STAFF)}")
    return user, since, token, ""


def _since(value: Any) -> int | None:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None  # no event id (int() would read 1.5 as 1, true as 1)
    try:
        since = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        return None
    return since if since >= 0 else None


@router.websocket("/ws/alerts")
async def alert_feed(ws: WebSocket) -> None:
    service = ws.app.state.service
    await ws.accept()
    try:
        user, since_raw, token, problem = await _authenticate(ws, service)
    except WebSocketDisconnect:
        log.info("dashboard %s: left before authenticating", _peer(ws))
        return
    since = _since(since_raw)
    if user is not None and since is None:
        problem = f"since must be the last event id seen (an integer >= 0), got {since_raw!r}"
    if user is None or since is None:
        log.warning("dashboard %s: refused: %s", _peer(ws), problem)
        await ws.close(CLOSE_POLICY, close_reason(problem))
        return
    head = service.hub.head
    note = None
    if since > head:
        note = f"since {since} is past the newest event {head}; following from {head}"
        since = head
    client = Dashboard(ws, user, since, service.config.dashboard_queue, token)
    await ws.send_text(json.dumps({"type": "hello", "user": user.name, "role": user.role,
                                   "since": since, "last_event_id": head, "note": note}))
    log.info("dashboard %s (%s): connected, resuming after event %d", client.peer, user.name,
             since)
    reason = await service.hub.serve(client, lambda c, text: _on_message(service, c, text))
    log.info("dashboard %s (%s): closed (%s)", client.peer, user.name, reason)


async def _on_message(service: Any, client: Dashboard, text: str) -> None:
    """A dashboard's message: ``ack``, ``resolve`` or ``ping``; the answer joins its queue."""
    msg, problem = parse_message(text)
    if msg is not None and not echoable(msg.get("request_id")):
        msg, problem = None, ("request_id must be a number or a string of at most "
                              f"{MAX_REQUEST_ID_CHARS} characters")
    if msg is None:
        reply = {"type": "error", "status": 400, "message": problem}
    else:
        reply = {**await _act(service, client, msg), "action": msg["type"][:40],
                 "request_id": msg.get("request_id")}
    service.hub.offer(client, Outgoing(json.dumps(reply, allow_nan=False)))


async def _act(service: Any, client: Dashboard, msg: dict) -> dict:
    kind = msg.get("type")
    if kind == "ping":
        return {"type": "pong"}
    if kind not in ("ack", "resolve"):
        return _error(400, f"unknown message type {kind[:40]!r}; use ack, resolve or ping")
    user, alert_id = client.user, msg.get("alert_id")
    if await check_token(service, client.token, "session") is None:  # signed out meanwhile
        return _error(401, "the session has ended; sign in again", alert_id)
    if user.role not in HANDLERS:
        return _error(403, f"user {user.name!r} has role {user.role!r}; {kind} needs role "
                           "supervisor or admin", alert_id)
    if isinstance(alert_id, bool) or not isinstance(alert_id, int):
        return _error(400, f"{kind} needs the alert's id as an integer 'alert_id'")
    note = msg.get("note")
    if kind == "resolve" and note is not None and not isinstance(note, str):
        return _error(400, f"note must be text, got {type(note).__name__}", alert_id)
    try:
        if kind == "ack":
            await service.worker.call(alert_log.acknowledge, service.store, alert_id,
                                      user.name, "websocket")
        else:
            await service.worker.call(alert_log.resolve, service.store, alert_id, user.name,
                                      note, "websocket")
    except NotFoundError as exc:
        return _error(404, str(exc), alert_id)
    except ConflictError as exc:
        return _error(409, str(exc), alert_id)
    except InvalidInputError as exc:
        return _error(400, str(exc), alert_id)
    service.hub.wake()  # the change reaches every dashboard as an alert event
    return {"type": "ok", "alert_id": alert_id}


def _error(status: int, message: str, alert_id: Any = None) -> dict:
    return {"type": "error", "status": status, "message": message,
            "alert_id": alert_id if echoable(alert_id) else None}
