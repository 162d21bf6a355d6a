"""REST routes (JSON). Every route but ``/healthz`` and the login needs a token.

Store errors map to statuses in :mod:`voiceline.server.app`: unknown id 404, a request
the state forbids (acknowledged twice) 409, bad input 400.
"""

from __future__ import annotations

import asyncio
import math
import urllib.parse
import uuid
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, model_validator

from capture.ingest import Binding
from voiceline.auth import AccountDisabled, User, can_view_agent, token_sha256
from voiceline.directory import later, tenure_start_s
from voiceline.server import alert_log
from voiceline.server.calls import checked_agent
from voiceline.server.deps import (
    Admin,
    AlertId,
    Handler,
    Ingest,
    MetricsReader,
    Name,
    ServiceDep,
    SignedIn,
    Staff,
    bearer_token,
)
from voiceline.store import values

router = APIRouter()
MAX_LIMIT = 1000
#: An ingest token lives at most ten years; one that should never expire has no ttl_s.
MAX_INGEST_TOKEN_TTL_S = 10 * 366 * 86400.0


class LoginBody(BaseModel):
    name: Name = Field(max_length=64)
    password: str = Field(max_length=1024)


class OwnPasswordBody(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=4096)


class ResolveBody(BaseModel):
    note: str | None = Field(default=None, max_length=4000)


class IngestTokenBody(BaseModel):
    label: Name = Field(min_length=1, max_length=200)
    ttl_s: float | None = Field(default=None, gt=0, le=MAX_INGEST_TOKEN_TTL_S,
                                allow_inf_nan=False)


class BindBody(BaseModel):
    """JSON, or the form Asterisk's ``CURL(url,post-data)`` posts from a dialplan."""

    uuid: Name = Field(max_length=200)
    seat: Name = Field(min_length=1, max_length=200)
    agent: Name | None = Field(default=None, max_length=200)
    channel: Literal["agent", "caller"] = "agent"

    @model_validator(mode="before")
    @classmethod
    def _form(cls, data: Any) -> Any:
        if not isinstance(data, bytes):  # JSON, which FastAPI parsed
            return data
        try:
            return dict(urllib.parse.parse_qsl(data.decode("utf-8"), keep_blank_values=True,
                                               strict_parsing=True, max_num_fields=10))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("the body must be a JSON object or a form "
                             "(uuid=...&seat=...&agent=...)") from None


def _own_agent(user: User, agent: str | None) -> str | None:
    """The agent filter a user may use: an agent-role user sees only themself."""
    if user.role != "agent":
        return agent
    if agent is not None and agent != user.agent_id:
        raise HTTPException(403, f"user {user.name!r} may see only agent {user.agent_id}'s data")
    return user.agent_id


# -- sessions -----------------------------------------------------------------------------

@router.post("/api/login")
async def login(body: LoginBody, request: Request, service: ServiceDep) -> dict:
    """A session token for a name and password (401 for a wrong pair; 403 for the right
    pair of a disabled account; 429 after repeated failures for the name or the
    address, see ``login_guard``)."""
    address = request.client.host if request.client else None
    wait_s = service.login_guard.retry_after_s(body.name, address)
    if wait_s > 0:
        service.worker.submit(service.store.audit, None, "login_throttled", None,
                              {"name": body.name[:64], "address": address})
        raise HTTPException(429, f"too many failed logins; try again in {math.ceil(wait_s)} s",
                            headers={"Retry-After": str(math.ceil(wait_s))})
    try:
        user = await asyncio.to_thread(service.auth.authenticate, body.name, body.password)
    except AccountDisabled as exc:
        service.worker.submit(service.store.audit, None, "login_disabled", None,
                              {"name": body.name[:64], "address": address})
        raise HTTPException(403, str(exc)) from None
    if user is None:
        service.login_guard.failed(body.name, address)
        service.worker.submit(service.store.audit, None, "login_failed", None,
                              {"name": body.name[:64], "address": address})
        raise HTTPException(401, "wrong user name or password")
    service.login_guard.succeeded(body.name)
    ttl_s = service.config.session_ttl_s
    token = await service.worker.call(service.auth.issue_token, user, "session", ttl_s)
    service.worker.submit(service.store.audit, user.name, "login", None, {"address": address})
    return {"token": token, "token_type": "bearer", "name": user.name, "role": user.role,
            "agent_id": user.agent_id, "expires_in_s": ttl_s}


@router.post("/api/logout")
async def logout(request: Request, user: SignedIn, service: ServiceDep) -> dict:
    """Revoke the session token the request carries."""
    token = bearer_token(request.headers.get("authorization"))
    await service.worker.call(service.auth.revoke_token, token)
    service.end_dashboards(token=token, reason="signed out")
    service.worker.submit(service.store.audit, user.name, "logout")
    return {"ok": True}


@router.post("/api/me/password")
async def change_own_password(body: OwnPasswordBody, request: Request, user: SignedIn,
                              service: ServiceDep) -> dict:
    """Any signed-in user changes their own password: the current one must be right
    (403, counted like a failed login; 429 when throttled), the new one follow the
    policy (400). Their other sessions are signed out; this one stays."""
    address = request.client.host if request.client else None
    wait_s = service.login_guard.retry_after_s(user.name, address)
    if wait_s > 0:
        raise HTTPException(429, f"too many failed attempts; try again in {math.ceil(wait_s)} s",
                            headers={"Retry-After": str(math.ceil(wait_s))})
    try:
        same = await asyncio.to_thread(service.auth.authenticate, user.name,
                                       body.current_password)
    except AccountDisabled:
        same = None
    if same is None or same.id != user.id:
        service.login_guard.failed(user.name, address)
        service.worker.submit(service.store.audit, user.name, "change_password_refused")
        raise HTTPException(403, "the current password is wrong")
    password_hash = await asyncio.to_thread(service.auth.hash_password, body.new_password)
    token = bearer_token(request.headers.get("authorization"))
    revoked = await service.worker.call(
        service.store.set_password_hash, user.id, password_hash,
        keep_token_sha256=token_sha256(token) if token else None)
    service.end_dashboards(user_id=user.id, keep_token=token,
                           reason="the password was changed; sign in again")
    service.worker.submit(service.store.audit, user.name, "change_password",
                          f"user:{user.name}", {"revoked_sessions": revoked})
    return {"name": user.name, "revoked_sessions": revoked}


# -- alerts -------------------------------------------------------------------------------

@router.get("/api/alerts")
async def list_alerts(
    user: SignedIn, service: ServiceDep,
    state: Literal["open", "closed"] | None = None,
    kind: Literal["agitation", "low_energy"] | None = None,
    severity: Literal["warning", "critical"] | None = None,
    agent: Name | None = None, seat: Name | None = None, call: Name | None = None,
    since: float | None = Query(None, description="opened at or after (unix s)"),
    acknowledged: bool | None = None, resolved: bool | None = None,
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> list[dict]:
    """Alerts newest first; an agent-role user gets only their own, of their tenure."""
    agent_id = _own_agent(user, agent)
    tenure = await service.worker.call(tenure_start_s, service.store, user)
    return await service.worker.call(
        service.store.list_alerts, state=state, kind=kind, severity=severity,
        agent_id=agent_id, seat_id=seat, call_id=call, since_s=later(since, tenure),
        acknowledged=acknowledged, resolved=resolved, limit=limit)


@router.get("/api/alerts/{alert_id}")
async def get_alert(user: SignedIn, alert_id: AlertId, service: ServiceDep) -> dict:
    alert = await service.worker.call(service.store.get_alert, alert_id)
    if user.role == "agent" and not can_view_agent(user, alert["agent_id"] or ""):
        raise HTTPException(403, f"alert {alert_id} is not about agent {user.agent_id}")
    tenure = await service.worker.call(tenure_start_s, service.store, user)
    if tenure is not None and alert["opened_s"] < tenure:
        raise HTTPException(403, f"alert {alert_id} is from before agent {user.agent_id} "
                                 f"was given to {user.name!r}")
    return alert


@router.post("/api/alerts/{alert_id}/ack")
async def acknowledge(user: Handler, alert_id: AlertId, service: ServiceDep) -> dict:
    """Acknowledge (supervisor, admin); every dashboard gets the ``acknowledged`` event."""
    alert = await service.worker.call(alert_log.acknowledge, service.store, alert_id,
                                      user.name, "rest")
    service.hub.wake()
    return alert


@router.post("/api/alerts/{alert_id}/resolve")
async def resolve(user: Handler, alert_id: AlertId, body: ResolveBody,
                  service: ServiceDep) -> dict:
    """Resolve with a note (supervisor, admin); acknowledges too if nobody had."""
    alert = await service.worker.call(alert_log.resolve, service.store, alert_id, user.name,
                                      body.note, "rest")
    service.hub.wake()
    return alert


# -- calls, agents, seats -----------------------------------------------------------------

@router.get("/api/calls")
async def list_calls(
    user: SignedIn, service: ServiceDep, agent: Name | None = None, seat: Name | None = None,
    since: float | None = None, until: float | None = None, active: bool | None = None,
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> list[dict]:
    """Calls newest first (``since``/``until`` on the start time, unix s); an agent-role
    user gets only their own, of their tenure."""
    agent_id = _own_agent(user, agent)
    tenure = await service.worker.call(tenure_start_s, service.store, user)
    return await service.worker.call(
        service.store.list_calls, agent_id=agent_id, seat_id=seat,
        since_s=later(since, tenure), until_s=until, active=active, limit=limit)


@router.get("/api/agents")
async def list_agents(user: SignedIn, service: ServiceDep) -> list[dict]:
    """Registered agents, each with whether they have a baseline of their own and, if so,
    what it rests on (``baseline``: speech seconds, channel type, dates, software version;
    None for an agent judged against the population baseline), and
    ``baseline_problem``: why their baseline file cannot be used, if it is there but
    unreadable (damaged, an older schema)."""
    agents = await service.worker.call(service.store.list_agents)
    calibrated = await asyncio.to_thread(service.baselines.summaries)
    problems = await asyncio.to_thread(service.baselines.problems_by_agent)
    if user.role == "agent":
        agents = [a for a in agents if a["agent_id"] == user.agent_id]
    return [{**a, "has_baseline": a["agent_id"] in calibrated,
             "baseline": calibrated.get(a["agent_id"]),
             "baseline_problem": problems.get(a["agent_id"])} for a in agents]


@router.get("/api/agents/{agent_id}/baseline")
async def agent_baseline(agent_id: Name, user: SignedIn, service: ServiceDep) -> dict:
    """The agent's 8 kHz voice baseline (an agent-role user: their own only)."""
    if not can_view_agent(user, agent_id):
        raise HTTPException(403, f"user {user.name!r} may not see agent {agent_id}'s baseline")
    base = await asyncio.to_thread(service.baselines.agent_baseline, agent_id)
    if base is None:
        problem = (await asyncio.to_thread(service.baselines.problems_by_agent)).get(agent_id)
        if user.role == "agent":  # the server's paths and commands are not theirs
            raise HTTPException(404, f"agent {agent_id} has no usable baseline of their own "
                                     f"yet{' (the file is damaged)' if problem else ''}; ask "
                                     "a supervisor or administrator to calibrate it")
        if problem is not None:
            raise HTTPException(404, f"agent {agent_id}'s baseline file cannot be used "
                                     f"({problem}); calibrate again with 'voiceline "
                                     f"calibrate --agent {agent_id}'")
        raise HTTPException(404, f"agent {agent_id} has no baseline; calibrate with "
                                 f"'voiceline calibrate --agent {agent_id} --out "
                                 f"{service.config.baselines_dir}'")
    return base.to_json()


@router.get("/api/seats")
async def seats(user: Staff, service: ServiceDep,
                configured: bool = Query(False, alias="all")) -> dict:
    """The live wall: the same snapshot as the ``seats`` websocket message.

    ``?all=1`` adds ``configured``: every seat the store knows, with its team and label,
    so that the wall shows idle seats too (the snapshot lists seats in a call only).
    """
    snapshot = service.seats()
    if configured:
        snapshot["configured"] = await service.worker.call(service.store.list_seats)
    return snapshot


@router.get("/api/seats/{seat_id}/history")
async def seat_history(
    seat_id: Name, user: Staff, service: ServiceDep,
    since: float | None = Query(None, description="points at or after (unix s)"),
) -> dict:
    """The seat's snapshot points of the last minutes (``seat_history_s``), oldest first:
    what the seat detail draws, for a page that was not open to see them.

    ``agent_id`` is the agent the points are of (a seat's history starts over when
    another agent sits down); ``call_id`` the seat's live call, None between calls.
    """
    since = values.optional_time_s(since, "since")  # NaN: 400, as for /api/alerts
    if seat_id not in service.history and service.seat_call(seat_id) is None:
        seats = await service.worker.call(service.store.list_seats, retired=True)
        if not any(s["seat_id"] == seat_id for s in seats):
            raise HTTPException(404, f"unknown seat {seat_id!r}; GET /api/seats?all=1 lists "
                                     "the seats")
    return {"seat_id": seat_id, "call_id": service.seat_call(seat_id),
            "agent_id": service.history.agent_of(seat_id),
            "points": service.history.points(seat_id, since)}


# -- ingest administration ----------------------------------------------------------------

@router.post("/api/ingest-tokens", status_code=201)
async def issue_ingest_token(body: IngestTokenBody, user: Admin, service: ServiceDep) -> dict:
    """A new ingest token for a telephony source (admin); shown once."""
    token = await service.worker.call(service.auth.issue_ingest_token, body.label,
                                      ttl_s=body.ttl_s)
    service.worker.submit(service.store.audit, user.name, "issue_ingest_token", None,
                          {"label": body.label})
    return {"token": token, "label": body.label, "ttl_s": body.ttl_s}


@router.post("/api/audiosocket/bind", status_code=201)
async def bind_audiosocket(body: BindBody, client: Ingest, service: ServiceDep) -> dict:
    """Tie an AudioSocket call UUID to a seat and agent before its socket opens (400 for
    what the call itself would be refused for: an id a live call may not have, or the
    caller's leg alone, which has no agent's voice to score)."""
    try:
        if body.channel != "agent":
            raise ValueError("a stream of the caller alone cannot be scored (the engine "
                             "judges the agent's voice); bind the agent's leg")
        seat, agent = values.identifier(body.seat, "seat"), checked_agent(body.agent)
        binding = Binding(seat, agent, body.channel)
        expires_s = service.bindings.bind(body.uuid, binding, client=client)
    except ValueError as exc:
        raise HTTPException(400, f"cannot bind: {exc}") from None
    return {"uuid": str(uuid.UUID(body.uuid)), "seat": seat, "agent": agent,
            "channel": body.channel, "expires_s": expires_s, "bound_by": client.label}


# -- health and metrics -------------------------------------------------------------------

@router.get("/healthz")
async def healthz(service: ServiceDep) -> dict:
    """Liveness without a token: version, live seats, tick latency, scoring state."""
    return await service.health()


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(who: MetricsReader, service: ServiceDep) -> PlainTextResponse:
    """Prometheus text format (an ingest token, or an admin/supervisor session)."""
    return PlainTextResponse(service.metrics.render(service.engine.stats),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
