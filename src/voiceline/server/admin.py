"""REST routes of the admin page: console users (list, add, reset a password, disable
and enable), ingest tokens (list, revoke), the audit log (read), and the floor's
directory: seats (team, label; retire) and agents (display name, team; retire one who
left, so that the next user given the id starts afresh).

Admins only, checked by the :data:`~voiceline.server.deps.Admin` dependency; every
change is written to the audit log with the acting admin's name before the answer goes
out. Passwords are hashed in the default executor (Argon2id is slow on purpose), then
stored in the store thread. Agents and their baselines are read through
``GET /api/agents`` and ``GET /api/agents/{id}/baseline``, ingest tokens issued with
``POST /api/ingest-tokens`` (:mod:`voiceline.server.api`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from emotion.baseline import BaselineError, check_agent_id
from voiceline.directory import agent_reuse, put_entry, retire_agent, retire_seat, reuse_message
from voiceline.server.deps import Admin, Name, ServiceDep
from voiceline.store import ROLES, ConflictError, NotFoundError, Store, values
from voiceline.store.values import MAX_LIMIT

router = APIRouter()


class NewUserBody(BaseModel):
    # Role and lengths are checked by voiceline.auth and the store, whose messages say
    # what is allowed (400); the limits here only bound what reaches them.
    name: Name = Field(max_length=200)
    role: str = Field(max_length=40)
    password: str = Field(max_length=4096)
    agent_id: Name | None = Field(default=None, max_length=200)


class PasswordBody(BaseModel):
    password: str = Field(max_length=4096)


class SeatBody(BaseModel):
    team: Name | None = Field(default=None, max_length=200)
    label: Name | None = Field(default=None, max_length=200)


class AgentBody(BaseModel):
    display_name: Name | None = Field(default=None, max_length=200)
    team: Name | None = Field(default=None, max_length=200)


def _blank_is_none(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def add_user(store: Store, admin: str, name: str, role: str, password_hash: str,
             agent_id: str | None) -> dict:
    """Create the user (registering an unknown agent with it, as ``voiceline user add``
    does) and audit it; returns the user plus ``agent_registered``, and for an agent id
    given before, ``new_tenure`` (it was retired: the user sees nothing from before) or
    ``warning`` (it still belongs to others, whose history the user will see)."""
    known = agent_id is None or agent_id.strip() in {a["agent_id"] for a in store.list_agents()}
    reuse = agent_reuse(store, agent_id.strip()) if agent_id and role == "agent" else None
    user = store.add_user(name, role, password_hash, agent_id, register_agent=True)
    extra = {"agent_registered": not known}
    if reuse and reuse["retired"]:
        extra["new_tenure"] = True
    elif reuse and reuse["holders"]:
        extra["warning"] = reuse_message(user["agent_id"], reuse)
    store.audit(admin, "add_user", f"user:{user['name']}",
                {"role": user["role"], "agent_id": user["agent_id"], "via": "api", **extra,
                 **({"earlier_users": reuse["holders"]} if reuse and reuse["holders"]
                    else {})})
    return {**user, **extra}


def set_password(store: Store, admin: str, user_id: int, name: str,
                 password_hash: str) -> int:
    """Replace the password, sign the user's sessions out and audit it; returns how many."""
    revoked = store.set_password_hash(user_id, password_hash, revoke_sessions=True)
    store.audit(admin, "reset_password", f"user:{name}", {"revoked_sessions": revoked,
                                                          "via": "api"})
    return revoked


def set_disabled(store: Store, admin: str, name: str, disabled: bool, via: str) -> dict:
    """Disable or enable the user called ``name`` and audit it (also when nothing
    changed, so the log shows the attempt); returns the user plus ``revoked_sessions``.
    The API and ``voiceline user disable|enable`` both come here."""
    target = store.get_user(name)
    if disabled and target["name"].casefold() == (admin or "").casefold() and via == "api":
        raise ConflictError("you cannot disable your own account; another admin can")
    user, revoked = store.set_user_disabled(target["id"], disabled)
    store.audit(admin, "disable_user" if disabled else "enable_user", f"user:{user['name']}",
                {"revoked_sessions": revoked, "via": via})
    return {**user, "revoked_sessions": revoked}


def revoke_ingest(store: Store, admin: str, token_id: int, via: str) -> dict:
    """Revoke ingest token ``token_id`` (404 for no such ingest token) and audit it;
    returns the token's row plus ``revoked``: False if it already was."""
    token = _ingest_token(store, token_id)
    revoked = store.revoke_token(token_id=token["id"])
    store.audit(admin, "revoke_ingest_token", f"token:{token['id']}",
                {"label": token["label"], "already": not revoked, "via": via})
    return {**_ingest_token(store, token_id), "revoked": revoked}


def _ingest_token(store: Store, token_id: int) -> dict:
    for token in store.list_tokens(kind="ingest", include_revoked=True):
        if token["id"] == token_id:
            return {k: token[k] for k in ("id", "label", "created_s", "expires_s",
                                          "revoked_s")}
    raise NotFoundError(f"no ingest token with id {token_id}")


def _agent_id_named(agent_id: str) -> None:
    """400 unless a baseline file can be named after ``agent_id`` (letters, digits, -_.)."""
    try:
        check_agent_id(agent_id)
    except BaselineError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/api/users")
async def list_users(user: Admin, service: ServiceDep) -> list[dict]:
    """Every console user by name: ``id, name, role, agent_id, created_s`` (no hashes)."""
    return await service.worker.call(service.store.list_users)


@router.post("/api/users", status_code=201)
async def create_user(body: NewUserBody, user: Admin, service: ServiceDep) -> dict:
    """Add a user (400: weak password, unknown role, agent_id missing or misplaced;
    409: the name is taken). An agent-role user's unknown ``agent_id`` is registered."""
    values.choice(body.role, "role", ROLES)  # before the slow hash
    agent_id = body.agent_id.strip() if body.agent_id and body.agent_id.strip() else None
    if agent_id is not None:
        _agent_id_named(agent_id)
    password_hash = await asyncio.to_thread(service.auth.hash_password, body.password)
    return await service.worker.call(add_user, service.store, user.name, body.name,
                                     body.role, password_hash, agent_id)


@router.post("/api/users/{name}/password")
async def reset_password(name: Name, body: PasswordBody, user: Admin,
                         service: ServiceDep) -> dict:
    """Give a user a new password and sign out their sessions (404 for an unknown name,
    400 for a weak password). Resetting one's own signs this session out too."""
    target = await service.worker.call(service.store.get_user, name)
    password_hash = await asyncio.to_thread(service.auth.hash_password, body.password)
    revoked = await service.worker.call(set_password, service.store, user.name,
                                        target["id"], target["name"], password_hash)
    service.end_dashboards(user_id=target["id"], reason="the password was reset; sign in again")
    return {"name": target["name"], "revoked_sessions": revoked}


@router.post("/api/users/{name}/disable")
async def disable_user(name: Name, user: Admin, service: ServiceDep) -> dict:
    """Withdraw a user's access: sign-in refused (403 for the right password), sessions
    revoked, their name kept on what they did. 404 for an unknown name; 409 for one's
    own account or the last enabled admin."""
    result = await service.worker.call(set_disabled, service.store, user.name, name, True,
                                       "api")
    service.end_dashboards(user_id=result["id"], reason="the account was disabled")
    return result


@router.post("/api/users/{name}/enable")
async def enable_user(name: Name, user: Admin, service: ServiceDep) -> dict:
    """Give a disabled user their access back (with the password they had)."""
    return await service.worker.call(set_disabled, service.store, user.name, name, False,
                                     "api")


@router.get("/api/ingest-tokens")
async def list_ingest_tokens(user: Admin, service: ServiceDep) -> list[dict]:
    """Every ingest token, newest first: ``id, label, created_s, expires_s, revoked_s``
    (never the token), and ``connections``: how many ingest connections use it now."""
    rows = await service.worker.call(service.store.list_tokens, kind="ingest",
                                     include_revoked=True)
    using: dict[int, int] = {}
    for conn in service.ingest_open:
        if conn.token_id is not None and not conn.revoked:
            using[conn.token_id] = using.get(conn.token_id, 0) + 1
    return [{k: r[k] for k in ("id", "label", "created_s", "expires_s", "revoked_s")}
            | {"connections": using.get(r["id"], 0)} for r in rows]


@router.delete("/api/ingest-tokens/{token_id}")
async def revoke_ingest_token(token_id: int, user: Admin, service: ServiceDep) -> dict:
    """Revoke an ingest token: new connections and AudioSocket binds with it are refused
    (401), and connections streaming with it close at their next message (1008 naming
    it; their calls end with that reason). 404 for no such ingest token."""
    if not 0 < token_id < 2**63:
        raise HTTPException(404, f"no ingest token with id {token_id}")
    token = await service.worker.call(revoke_ingest, service.store, user.name, token_id,
                                      "api")
    return {**token, "connections_closed": service.drop_revoked({token["id"]})}


@router.get("/api/audit")
async def read_audit(user: Admin, service: ServiceDep,
                     who: Annotated[Name | None, Query(alias="user", max_length=200)] = None,
                     action: Annotated[Name | None, Query(max_length=200)] = None,
                     obj: Annotated[Name | None, Query(alias="object", max_length=500)] = None,
                     since: float | None = None, until: float | None = None,
                     before_id: Annotated[int | None, Query(ge=1, lt=2**63)] = None,
                     limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100) -> list[dict]:
    """The audit log, newest first: ``id, time_s, user, action, object, detail``.
    Filters: the acting user, the action, the object (``user:li``, ``alert:12``, …),
    ``since`` (inclusive) and ``until`` (unix s); ``before_id`` pages back."""
    since = values.optional_time_s(since, "since")  # NaN, inf: 400
    until = values.optional_time_s(until, "until")
    return await service.worker.call(service.store.list_audit, user=who, action=action,
                                     obj=obj, since_s=since, until_s=until,
                                     before_id=before_id, limit=limit)


@router.put("/api/seats/{seat_id}")
async def put_seat_route(seat_id: Name, body: SeatBody, user: Admin,
                         service: ServiceDep) -> dict:
    """Register a seat or set its team and label (both replaced; empty or null clears
    one). A retired seat is back in service. The wall lists it from its next load."""
    fields = {"team": _blank_is_none(body.team), "label": _blank_is_none(body.label)}
    return await service.worker.call(put_entry, service.store, user.name, "seat", seat_id,
                                     fields, "api")


@router.delete("/api/seats/{seat_id}")
async def retire_seat_route(seat_id: Name, user: Admin, service: ServiceDep) -> dict:
    """Take a seat out of service: it leaves the wall's list, its calls stay. 404 for
    an unknown seat, 409 while a call is live on it. A call on it later, or a PUT,
    puts it back."""
    return await service.worker.call(retire_seat, service.store, user.name, seat_id, "api")


@router.put("/api/agents/{agent_id}")
async def put_agent_route(agent_id: Name, body: AgentBody, user: Admin,
                          service: ServiceDep) -> dict:
    """Register an agent or set their display name and team (both replaced; empty or
    null clears one). Baselines are made with ``voiceline calibrate``; an id no baseline
    file could be named after (other than letters, digits, ``-_.``) is refused (400)."""
    _agent_id_named(agent_id)
    fields = {"display_name": _blank_is_none(body.display_name),
              "team": _blank_is_none(body.team)}
    return await service.worker.call(put_entry, service.store, user.name, "agent", agent_id,
                                     fields, "api")


@router.delete("/api/agents/{agent_id}")
async def retire_agent_route(agent_id: Name, user: Admin, service: ServiceDep) -> dict:
    """Retire an agent who left: their calls, alerts and recordings stay for staff, their
    baseline files move to ``baselines/history/retired/`` (``baselines_moved``), and the
    next user given the id (``POST /api/users``) starts a new tenure. 404 for an unknown
    agent; 409 while a call of theirs is live or an enabled user speaks as them."""
    agent = await service.worker.call(retire_agent, service.store, user.name, agent_id,
                                      "api", service.config.baselines_dir)
    return {**agent, "baselines_moved": [p.name for p in agent["baselines_moved"]]}
