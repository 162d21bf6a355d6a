"""The live service's parts, wired together: store, auth, engine, calls, dashboards.

:class:`Service` is created and stopped by the app's lifespan; routes reach it as
``request.app.state.service``. It owns the threads: the store thread
(:class:`~voiceline.server.worker.StoreWorker`) and the engine: by default a child
process (:class:`~voiceline.server.engine_process.ProcessEngine`, ``engine_mode =
"process"``), else a thread (:class:`~voiceline.server.engine_runner.EngineRunner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import time
from concurrent.futures import Future
from typing import Any

from voiceline import __version__
from voiceline.auth import Auth
from voiceline.server.alert_log import AlertRecorder
from voiceline.server.baselines import BaselineBook
from voiceline.server.calls import SHUTDOWN_REASON, CallBook
from voiceline.server.config import ServerConfig
from voiceline.server.dashboards import SESSION_CHECK_S, SESSION_ENDED, DashboardHub
from voiceline.server.engine_process import ProcessEngine
from voiceline.server.engine_runner import EngineRunner, build_engine
from voiceline.server.heap import freeze_startup_heap
from voiceline.server.ingest import BATCH_S, Bindings, start_audiosocket
from voiceline.server.lean_ingest import LeanIngestListener
from voiceline.server.limits import CutCounts, raise_descriptor_limit
from voiceline.server.login_guard import LoginGuard
from voiceline.server.metrics import Metrics
from voiceline.server.seat_history import SeatHistory
from voiceline.server.summaries import LiveSummaries
from voiceline.server.worker import StoreWorker
from voiceline.store import Store
from voiceline.store.retention import DEAD_SESSION_KEEP_S, prune_upgrade_copies

log = logging.getLogger("voiceline.server")
RESTART_REASON = "server stopped while the call was live"
ENGINE_RESTART_REASON = "engine restarted; monitoring of the call resumed"
#: How often open ingest connections are checked against tokens revoked elsewhere.
REVOCATION_CHECK_S = 10.0
#: How often old records are deleted (``record_retention_days`` …), and how many rows
#: one store trip deletes.
PRUNE_EVERY_S = 3600.0
PRUNE_BATCH = 500


def plain(value: Any) -> Any:
    """JSON-ready copy: NaN and infinities become None, numpy scalars plain numbers,
    floats keep 4 decimals."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


class Service:
    """Everything one ``voiceline serve`` process runs."""

    def __init__(self, config: ServerConfig, cuts: CutCounts | None = None) -> None:
        self.config = config
        self.metrics = Metrics()
        self.cuts = cuts if cuts is not None else CutCounts()
        self.metrics.connections_cut = self.cuts.counts
        self.started_s = time.time()
        self.snapshots: dict[str, Any] = {}
        self.history = SeatHistory(config.seat_history_s, max(1, math.ceil(
            round(config.seat_history_s / config.snapshot_interval_s, 6))))
        self.engine: Any = None
        self.audiosocket_server: asyncio.Server | None = None
        self.audiosocket_writers: set[asyncio.StreamWriter] = set()
        self.lean_ingest: LeanIngestListener | None = None
        self.ingest_holding: set = set()
        """Ingest connections holding audio for the engine (see ``ingest.BATCH_S``)."""
        self.ingest_open: set = set()
        """Every open ingest connection (see :meth:`drop_revoked`)."""
        self.revoked_ids: set[int] = set()
        """Ingest tokens known to be revoked (an AudioSocket call bound with one is
        refused when it starts)."""
        self.stopping = False
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        config = self.config
        self.loop = asyncio.get_running_loop()
        self.baselines = BaselineBook(config.baselines_dir)
        if config.engine_mode == "process":  # its imports overlap the rest of the start
            self.engine = ProcessEngine(config, self.baselines, self._on_tick, self.loop,
                                        on_restart=self._on_engine_restart)
            self.engine.launch()
        try:
            await self._start()
        except BaseException:
            if isinstance(self.engine, ProcessEngine):  # no engine process outlives a failure
                await asyncio.to_thread(self.engine.stop)
            raise
        freeze_startup_heap()

    async def _start(self) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        short = raise_descriptor_limit(config)
        if short:
            log.warning("%s", short)
        self.worker = StoreWorker()
        self.store = await self.worker.call(Store, config.store_path)
        if self.store.upgraded:
            before, after, copy = self.store.upgraded
            log.warning("upgraded the store %s from schema version %d to %d; the store as "
                        "it was is kept as %s (what the release before this one reads)",
                        config.store_path, before, after, copy)
            await self.worker.call(self.store.audit, None, "upgrade_store", "store",
                                   {"from": before, "to": after, "kept": copy})
        self.auth = Auth(self.store, config.password_hasher,
                         session_ttl_s=config.session_ttl_s)
        self.login_guard = LoginGuard()
        self.alert_recorder = AlertRecorder(self.store)
        self.calls = CallBook(self)
        self.summaries = LiveSummaries(config.summary_retention_days)
        ended = await self.worker.call(self.calls.recorder.end_all_open, RESTART_REASON,
                                       time.time())
        if ended:
            log.warning("ended %d call(s) left live by the previous run (%s)", ended,
                        RESTART_REASON)
        self.hub = DashboardHub(self.worker, self.store, self.metrics, config.dashboard_queue)
        await self.hub.start()
        self.bindings = Bindings(config.audiosocket_binding_ttl_s)
        what, port, flag = "websocket ingest", config.ingest_port, "--ingest-port"
        try:
            if config.ingest_port is not None:
                self.lean_ingest = LeanIngestListener(self)
                await self.lean_ingest.bind(
                    config.host, config.ingest_port,
                    config.ssl_context() if config.lean_ingest_tls else None,
                    config.handshake_timeout_s)
            what, port, flag = "AudioSocket", config.audiosocket_port, "--audiosocket-port"
            if config.audiosocket_port is not None:
                self.audiosocket_server = await start_audiosocket(self, config.host,
                                                                  config.audiosocket_port)
        except OSError as exc:
            if self.lean_ingest is not None and self.lean_ingest.server is not None:
                self.lean_ingest.server.close()
            await self.hub.stop()
            await self.worker.call(self.store.close)
            await asyncio.to_thread(self.worker.close)
            raise RuntimeError(
                f"cannot listen for {what} on {config.host}:{port} ({exc.strerror}); "
                f"choose another {flag}, or 0 for none") from None
        if isinstance(self.engine, ProcessEngine):
            await asyncio.to_thread(self.engine.start)
            self.runner: EngineRunner | ProcessEngine = self.engine
        else:
            self.engine = await asyncio.to_thread(build_engine, config, self.baselines)
            self.runner = EngineRunner(self.engine, config.engine.tick_s, self._on_tick,
                                       self.loop)
            self.runner.start()
        self._spawn(self._snapshot_loop(), "voiceline-snapshots")
        self._spawn(self._flush_loop(), "voiceline-ingest-flush")
        self._spawn(self._revocation_loop(), "voiceline-token-revocations")
        self._spawn(self._session_loop(), "voiceline-dashboard-sessions")
        self._spawn(self._retention_loop(), "voiceline-retention")
        if self.lean_ingest is not None:
            await self.lean_ingest.serve()
        log.info("voiceline %s serving data from %s; scoring: %s", __version__,
                 config.data_dir, self.baselines.status()["reason"] or "on")

    async def stop(self) -> None:
        self.stopping = True
        if self.audiosocket_server is not None:
            self.audiosocket_server.close()
        if self.lean_ingest is not None:
            await self.lean_ingest.stop()
        for call in list(self.calls.live.values()):
            await self.calls.end(call, SHUTDOWN_REASON)
        for writer in list(self.audiosocket_writers):  # uvicorn closes only its own
            writer.close()
        await asyncio.sleep(0)
        await asyncio.to_thread(self.runner.stop)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.hub.stop()
        await self.worker.call(self.calls.recorder.end_all_open, SHUTDOWN_REASON, time.time())
        await self.worker.call(self.store.close)
        await asyncio.to_thread(self.worker.close)
        log.info("voiceline stopped")

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- engine results (on the loop) ---------------------------------------------------

    def _on_tick(self, result: Any, latency_s: float) -> None:
        metrics = self.metrics
        metrics.tick.observe(latency_s)
        metrics.tick_audio_s = float(getattr(result, "audio_s", 0.0) or 0.0)
        metrics.tick_compute_s = float(getattr(result, "compute_s", 0.0) or 0.0)
        self.snapshots = {s.seat_id: s for s in result.snapshots}
        if result.windows:
            self.summaries.add(result.windows)
        if result.events:
            events = list(result.events)
            for ev in events:
                if ev.type == "opened":
                    metrics.alerts_opened[(ev.kind, ev.severity)] += 1
            future = self.worker.submit(self._record_alerts, events)
            future.add_done_callback(
                lambda done: self.loop.call_soon_threadsafe(self._publish_alerts, done))

    def _record_alerts(self, events: list) -> list[dict]:
        """Write the engine's alert events, then read them back for the dashboards, in one
        job of the store thread (each trip to it waits for the interpreter lock, which the
        busy event loop holds most of the time)."""
        self.alert_recorder.record(events)
        return self.hub.read_new()

    def _publish_alerts(self, done: Future) -> None:
        if done.exception() is None:
            self.hub.publish(done.result())
        else:  # logged by the worker; the feed tries the store again
            self.hub.wake()

    def _on_engine_restart(self, call_ids: list[str]) -> None:
        """A new engine process took over these calls: the old one's open alerts close
        (the new one opens its own if the voice is still out of range)."""
        for call_id in call_ids:
            self.worker.submit(self.alert_recorder.forget, call_id)
            future = self.worker.submit(self.store.close_alerts_of_call, call_id,
                                        ENGINE_RESTART_REASON)
            future.add_done_callback(lambda _: self.loop.call_soon_threadsafe(self.hub.wake))

    # -- the live wall ------------------------------------------------------------------

    def seats(self) -> dict:
        """The seat snapshot: every live call, scored or not, and the floor summary.

        ``stress_index`` is the mean of the latest ``deviation`` over seats in a scored
        call (None while there is none): one number for how far the floor's voices are
        from their own usual, as the 12345 hotline's wall showed it.
        """
        seats = []
        by_call = {c.call_id: c for c in self.calls.live.values()}
        deviations = []
        open_alerts = 0
        for snap in self.snapshots.values():
            entry = plain(snap)
            call = by_call.get(snap.call_id)
            entry["protocol"] = call.protocol if call else None
            entry["scored"] = True
            seats.append(entry)
            if snap.deviation is not None and math.isfinite(snap.deviation):
                deviations.append(float(snap.deviation))
            open_alerts += len(snap.open_alerts)
        shown = {s.call_id for s in self.snapshots.values()}
        for call in self.calls.live.values():  # unscored, or not yet through a tick
            if call.call_id not in shown:
                seats.append({"seat_id": call.seat_id, "call_id": call.call_id,
                              "agent_id": call.agent_id, "protocol": call.protocol,
                              "scored": call.scored, "state": "starting" if call.scored
                              else "unscored", "reason": call.unscored_reason})
        seats.sort(key=lambda s: str(s["seat_id"]))
        stress = round(sum(deviations) / len(deviations), 3) if deviations else None
        return {"t": round(time.time(), 3), "seats": seats,
                "floor": {"in_call": len(self.calls.live), "open_alerts": open_alerts,
                          "stress_index": stress}}

    def seat_call(self, seat_id: str) -> str | None:
        """The id of the seat's live call (the latest, if two overlap), or None."""
        calls = [c for c in self.calls.live.values() if c.seat_id == seat_id]
        return max(calls, key=lambda c: c.started_s).call_id if calls else None

    async def _flush_loop(self) -> None:
        """Audio an ingest connection has held for ``BATCH_S`` goes to the engine (a full
        batch goes at once; this is for the rest)."""
        while True:
            await asyncio.sleep(BATCH_S / 2)
            due = time.monotonic() - BATCH_S
            for conn in [c for c in self.ingest_holding if c.held_since_s <= due]:
                conn.flush()

    def drop_revoked(self, token_ids: set[int]) -> int:
        """Connections streaming with a revoked ingest token close at their next message
        (1008 naming the token; a call on one ends with that reason). Returns how many
        were open."""
        self.revoked_ids |= token_ids
        self.bindings.drop_token(token_ids)
        hit = [c for c in self.ingest_open if c.token_id in token_ids and not c.revoked]
        for conn in hit:
            conn.revoked = True
        return len(hit)

    async def _revocation_loop(self) -> None:
        """Revocations made outside this process (``voiceline user revoke``) reach the
        open connections and bindings within ``REVOCATION_CHECK_S``; the admin API's at
        once."""
        while True:
            await asyncio.sleep(REVOCATION_CHECK_S)
            try:
                rows = await self.worker.call(self.store.list_tokens, kind="ingest",
                                              include_revoked=True)
            except Exception as exc:  # the next round tries again
                log.warning("cannot read the ingest tokens' revocations: %s", exc)
                continue
            revoked = {r["id"] for r in rows if r["revoked_s"] is not None}
            if revoked - self.revoked_ids:
                self.drop_revoked(revoked - self.revoked_ids)

    async def prune(self, now_s: float | None = None) -> dict[str, int]:
        """Delete what is older than the retention settings keep (see
        :mod:`voiceline.store.retention`), a short batch per store trip so that live
        alerts are written in between; returns how many rows of each kind went."""
        config = self.config
        now_s = time.time() if now_s is None else now_s
        periods = {"calls": config.record_retention_days * 86400.0,
                   "qa_calls": config.record_retention_days * 86400.0,
                   "audit": config.audit_retention_days * 86400.0,
                   "sessions": DEAD_SESSION_KEEP_S}
        removed = {}
        for kind, keep_s in periods.items():
            if keep_s <= 0:
                continue
            removed[kind] = 0
            while True:
                n = await self.worker.call(self.store.prune_batch, kind, now_s - keep_s,
                                           PRUNE_BATCH)
                removed[kind] += n
                if n < PRUNE_BATCH:
                    break
        # An upgrade's copy of the store holds records of every kind: it goes when the
        # longer of the two periods has passed since it was made (neither set: it stays).
        copy_keep_s = max(periods["calls"], periods["audit"])
        if copy_keep_s > 0:
            gone = await self.worker.call(prune_upgrade_copies, config.store_path,
                                          now_s - copy_keep_s)
            for copy in gone:
                await self.worker.call(self.store.audit, None, "delete_upgrade_copy", "store",
                                       {"path": str(copy)})
            removed["upgrade_copies"] = len(gone)
        if any(removed.values()):
            log.info("retention: deleted %s", ", ".join(f"{n} {kind}" for kind, n in
                                                        removed.items() if n))
        return removed

    async def _retention_loop(self) -> None:
        """:meth:`prune` at start and every ``PRUNE_EVERY_S``."""
        while True:
            try:
                await self.prune()
            except Exception as exc:  # the next round tries again
                log.warning("retention: deleting old records failed: %s", exc)
            await asyncio.sleep(PRUNE_EVERY_S)

    def end_dashboards(self, *, user_id: int | None = None, token: str | None = None,
                       keep_token: str | None = None, reason: str = SESSION_ENDED) -> int:
        """Close the open dashboards of a user (but not those of ``keep_token``), or of
        one session token, with 1008 and ``reason`` (their session was revoked here);
        returns how many."""
        return self.hub.end([c for c in self.hub.clients
                             if ((user_id is not None and c.user.id == user_id
                                  and c.token != keep_token)
                                 or (token is not None and c.token == token))], reason)

    async def _session_loop(self) -> None:
        """Dashboards whose session ended elsewhere (expired, or revoked by the CLI)
        are closed within ``SESSION_CHECK_S``."""
        async def check(token: str) -> Any:
            return await self.worker.call(self.auth.check_token, token, "session")

        while True:
            await asyncio.sleep(SESSION_CHECK_S)
            if not self.hub.clients:
                continue
            try:
                ended = await self.hub.check_sessions(check)
            except Exception as exc:  # the next round tries again
                log.warning("cannot check the dashboards' sessions: %s", exc)
                continue
            if ended:
                log.info("closed %d dashboard(s) whose session has ended", ended)

    async def _snapshot_loop(self) -> None:
        """Every ``snapshot_interval_s``: the ``seats`` message to the dashboards, and the
        same snapshot into each seat's history (kept whether anyone watches or not)."""
        period = self.config.snapshot_interval_s
        while True:
            await asyncio.sleep(period)
            self.metrics.mark_rate(time.time())
            if not (self.hub.clients or self.calls.live or len(self.history)):
                continue
            snapshot = self.seats()
            self.history.add(snapshot["t"], snapshot["seats"])
            if self.hub.clients:
                with contextlib.suppress(ValueError):
                    self.hub.broadcast(json.dumps({"type": "seats", **snapshot},
                                                  allow_nan=False))

    async def health(self) -> dict:
        scoring = await asyncio.to_thread(self.baselines.status)
        return {"ok": True, "version": __version__, "seats": len(self.calls.live),
                "dashboards": len(self.hub.clients),
                "tick_latency": self.metrics.tick.summary(), "tick_s": self.config.engine.tick_s,
                "engine_overruns": self.runner.overruns,
                "engine_mode": self.config.engine_mode,
                "engine_restarts": getattr(self.runner, "restarts", 0), "scoring": scoring,
                "ingest_port": self.config.ingest_port,
                "audiosocket_port": self.config.audiosocket_port,
                "uptime_s": round(time.time() - self.started_s, 1)}

