"""``voiceline serve``: telephony ingest, the live engine, durable alerts, a JSON API.

One asyncio process: FastAPI on uvicorn with the websockets library's sans-I/O core
(uvicorn's ``websockets-sansio``; its older ``websockets`` option runs on
``websockets.legacy``, deprecated since websockets 14). Three threads besides the loop:
the store thread (every SQLite call, in order), the engine (one tick every ``tick_s``:
by default in a child process of its own, reached by a sender and a reader thread,
:mod:`voiceline.server.engine_process`; with ``engine_mode = "thread"`` in a thread),
and the default executor (password hashing, baseline files, engine open/close). Bound
to 127.0.0.1 unless ``--host`` says otherwise.

Endpoints
---------
Ingest (ingest token: ``Authorization: Bearer`` or ``?token=``)
    ``WS /ingest/audiofork``  FreeSWITCH audio fork / Voiceline seat client
    ``WS /ingest/twilio``     Twilio Media Streams
    (both on the HTTP port and on the lean ingest port, ``--ingest-port``, default
    8081: :mod:`voiceline.server.lean_ingest`, the cheaper one per message)
    ``TCP --audiosocket-port`` Asterisk AudioSocket (no credentials in the protocol:
    ``POST /api/audiosocket/bind`` first, with an ingest token)
    Every port keeps at most ``max_connections``; a connection must send its first
    request, and an ingest connection start its call, within ``handshake_timeout_s``;
    a live call silent for ``ingest_idle_timeout_s`` is closed with 1008
    (:mod:`voiceline.server.limits`), and a connection whose ingest token is revoked
    with 1008 "the ingest token 'LABEL' was revoked" at its next message
Alert feed (session of role admin/supervisor/qa)
    ``WS /ws/alerts``
REST (session token as ``Authorization: Bearer``, except login and healthz)
    ``POST /api/login`` {name, password} → {token, token_type, name, role, agent_id,
    expires_in_s}; ``POST /api/logout``;
    ``GET /api/alerts`` ?state&kind&severity&agent&seat&call&since&acknowledged&resolved
    &limit; ``GET /api/alerts/{id}``; ``POST /api/alerts/{id}/ack``;
    ``POST /api/alerts/{id}/resolve`` {note}; ``GET /api/calls`` ?agent&seat&since&until
    &active&limit; ``GET /api/agents`` (each with ``has_baseline`` and ``baseline``:
    speech_s, n_windows, channel_type, level_profile, created, updated,
    software_version, or null); ``GET /api/agents/{id}/baseline``;
    ``GET /api/seats`` ?all (``configured``: the seats in service, team, label);
    ``PUT /api/seats/{id}`` {team, label}, ``DELETE /api/seats/{id}`` (retire; 409 while
    live), ``PUT /api/agents/{id}`` {display_name, team} (admin; audited);
    ``DELETE /api/agents/{id}`` (retire one who left: baseline files to
    ``baselines/history/retired/``; 409 while live or still an enabled user's; audited);
    ``GET /api/seats/{id}/history`` ?since (unix s) → {seat_id,
    call_id, agent_id, points: [{t, call_id, loudness_sone, f0_hz, speech_rate_syl_s,
    agitation, low_energy, deviation, agent_speaking}]} (admin/supervisor/qa): the
    seat's ``seats`` snapshot points of the last ``seat_history_s`` (600 s), oldest
    first, NaN as null, kept in memory (lost at a restart) and started over when
    another agent sits down; 404 for a seat neither live nor in the store;
    ``POST /api/ingest-tokens`` {label, ttl_s}, ``GET /api/ingest-tokens`` (id, label,
    created_s, expires_s, revoked_s, connections; never the token), ``DELETE
    /api/ingest-tokens/{id}`` (revoke) (admin; audited);
    ``GET /api/users`` (with disabled_s), ``POST /api/users`` {name, role, password,
    agent_id?}, ``POST /api/users/{name}/password`` {password}, ``POST
    /api/users/{name}/disable``, ``POST /api/users/{name}/enable`` (admin; audited; not
    one's own account nor the last enabled admin); ``POST /api/me/password``
    {current_password, new_password} (any user, their own; other sessions end);
    ``POST /api/login`` of a disabled account with its right password is 403;
    ``GET /api/audit`` ?user&action&object&since&until&before_id&limit (admin): the audit
    log newest first, {id, time_s, user, action, object, detail};
    ``POST /api/audiosocket/bind`` {uuid, seat, agent, channel} (ingest token);
    ``GET /healthz`` (no token); ``GET /metrics`` (ingest token, or admin/supervisor).
Static
    ``/`` serves the web console (:data:`voiceline.console.STATIC_DIR`), no token.

Alert feed messages (server → client, JSON text)
------------------------------------------------
``{"type": "hello", "user", "role", "since", "last_event_id", "note"}``
    first, after authentication.
``{"type": "alert", "event_id", "event", "time_s", "alert"}``
    ``event`` is opened, updated, closed, acknowledged or resolved; ``alert`` the
    alert's full state after it (the store's row: ``id, call_id, seat_id, agent_id,
    kind, severity, state, opened_s, updated_s, closed_s, close_reason, score,
    peak_score, explanation, drivers [{feature, z}], acknowledged_by, acknowledged_s,
    resolved_by, resolved_s, resolution_note``). Event ids increase; resume with the
    last one seen.
``{"type": "seats", "t", "seats": [...], "floor": {"in_call", "open_alerts",
"stress_index"}}``
    about once a second, every live call: a scored one as the engine's ``SeatSnapshot``
    (``seat_id, call_id, agent_id, agent_speaking, caller_speaking, agitation,
    low_energy, deviation, loudness_sone, f0_hz, speech_rate_syl_s, baseline,
    open_alerts, buffered_s, underrun_s, dropped_s, t_s, state, line_read_db, line_db``:
    the call's level read from its calm speech against the agent's calibration and the
    correction judged through, dB, null on a population baseline; NaN as null) plus
    ``protocol`` and ``scored: true``; any other ``{seat_id, call_id, agent_id, protocol,
    scored, state: "starting" | "unscored", reason}``. ``stress_index`` is the mean
    ``deviation`` (RMS z against each agent's own baseline) over scored seats.
``{"type": "ok" | "error", "action", "request_id", "alert_id", "status", "message"}``
    the answer to a client action.
Close codes: 1008 refused (bad token, role, malformed auth) or the session ended (signed
out, expired, the password reset or changed, the account disabled: checked every 30 s,
and at once for the API's own actions), with the reason; 1013 "too slow, resume from id
N"; 1012 server restart.

Client → server: ``{"type": "auth", "token", "since"}`` (first, unless ``?token=``),
``{"type": "ack", "alert_id", "request_id"?}``, ``{"type": "resolve", "alert_id",
"note", "request_id"?}`` (supervisor, admin), ``{"type": "ping"}``.
"""

from voiceline.server.config import DEFAULT_DATA_DIR, ServerConfig, load_config

__all__ = ["DEFAULT_DATA_DIR", "ServerConfig", "create_app", "load_config"]


def create_app(config: ServerConfig):
    """The ASGI app (imported lazily: FastAPI loads only when serving)."""
    from voiceline.server.app import create_app as _create_app

    return _create_app(config)
