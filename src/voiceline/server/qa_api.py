"""REST routes of the QA review pages: the pre-inspection queue, a call's flags, its audio
and loudness timeline, reviewers' verdicts, and each check's precision as they judged it.

Roles: ``qa`` and ``admin`` read and judge; ``supervisor`` reads; an agent gets 403. The
results come from ``voiceline qa --data DIR`` (:mod:`voiceline.store.qa`); the server
only reads the recordings the store registered for a call, never a path from a client.

The ``<audio>`` element cannot send an ``Authorization`` header, so ``GET
/api/qa/calls/{id}`` hands out an ``audio_url`` carrying an *audio token*: an HMAC
(per server process) over the call id and the digest of the caller's session token. It
opens that one call's audio only, and only while that session is valid; log lines
redact it as they do every ``token=``. An ``agent`` gets such a link from their own
report (:mod:`voiceline.server.reports_api`) for calls whose ``agent_id`` is theirs (and,
for an agent id given to them after its previous holder retired, recorded in their
tenure), and it opens for them; with a bearer header an agent is still refused QA recordings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import mimetypes
import re
import secrets
import time
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

import numpy as np
import soundfile as sf
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from capture.audio import AudioError, read_audio
from qa.tuning import TARGET_PRECISION, phrase_verdicts, suggest_all
from voiceline.auth import User, token_sha256
from voiceline.directory import tenure_start_s
from voiceline.server.deps import (
    FlagId,
    Name,
    ServiceDep,
    bearer_token,
    current_user,
    require,
)
from voiceline.store.values import MAX_INTEGER

router = APIRouter()

QA_READERS = ("admin", "qa", "supervisor")
QA_REVIEWERS = ("admin", "qa")
MAX_PAGE = 200
CHECK_NAME = r"^[a-z][a-z0-9_]{0,63}$"

#: Timeline: one level per channel every ``TIMELINE_HOP_S`` (coarser for long calls, so
#: that a channel never has more than ``MAX_TIMELINE_POINTS``), silence at the floor.
TIMELINE_HOP_S = 0.1
MAX_TIMELINE_POINTS = 6000
LEVEL_FLOOR_DBFS = -90.0
#: Recordings up to this many samples (all channels) are read whole with ``read_audio``;
#: longer ones block by block, so memory stays bounded (64 MB of float64) ...
FULL_READ_SAMPLES = 1 << 23
#: ... and none longer than this is drawn at all.
MAX_TIMELINE_S = 8 * 3600.0
TIMELINE_CACHE_ENTRIES = 64

_AUDIO_KEY = secrets.token_bytes(32)
_CHUNK_BYTES = 64 * 1024
#: One range of a ``Range`` header; ASCII digits only. Past 18 significant digits (no
#: file is longer; more once reached int()'s own 4,300-digit message) a first byte lies
#: beyond the file and a last byte is its end.
_RANGE = re.compile(r"^\s*([0-9]*)\s*-\s*([0-9]*)\s*$")
_MAX_DIGITS = 18

QaReader = Annotated[User, Depends(require(*QA_READERS))]
QaReviewer = Annotated[User, Depends(require(*QA_REVIEWERS))]


class SeenVerdict(BaseModel):
    """The flag's verdict as the reviewer's page showed it (both None: none yet)."""

    verdict_by: str | None = Field(default=None, max_length=200)
    verdict_s: float | None = None


class VerdictBody(BaseModel):
    verdict: Literal["confirmed", "dismissed"]
    note: str | None = Field(default=None, max_length=4000)
    #: Given by the console: refused (409) when someone judged the flag since.
    seen: SeenVerdict | None = None


def _public(call: dict) -> dict:
    """A stored call as the API shows it: the recording's file name, not its server path
    (not in its ``error`` either, which the reader wrote with the whole path)."""
    out = {k: v for k, v in call.items() if k not in ("path", "fingerprint")}
    out["file"] = Path(call["path"]).name if call.get("path") else None
    if out.get("error") and call.get("path"):
        out["error"] = _named(out["error"], Path(call["path"]))
    return out


def _named(text: str, path: Path) -> str:
    """``text`` with the server path of ``path`` shown as its file name only."""
    return text.replace(str(path), path.name).replace(str(path.parent) + "/", "")


# -- queue, call, verdicts, precision -------------------------------------------------------

@router.get("/api/qa/queue")
async def qa_queue(
    user: QaReader, service: ServiceDep,
    check: str | None = Query(None, pattern=CHECK_NAME, description="a check among the "
                              "call's current flags, e.g. dead_air"),
    agent: Annotated[Name | None, Query(max_length=200)] = None,
    since: float | None = Query(None, ge=0, description="recorded (else analysed) at or "
                                "after, unix s"),
    until: float | None = Query(None, ge=0, description="recorded before, unix s"),
    min_score: float | None = Query(None, ge=0, le=100),
    status: Literal["open", "reviewed", "all"] = "open",
    sort: Literal["score", "recent", "duration"] = "score",
    free: bool = Query(False, description="leave out the calls another reviewer has open "
                       "now (their claim)"),
    limit: int = Query(50, ge=1, le=MAX_PAGE), offset: int = Query(0, ge=0, le=MAX_INTEGER),
) -> dict:
    """Flagged calls, highest review score first (``status=open``: some flag not judged
    yet; ``reviewed``: every flag judged; ``all``). Each call carries its current flags
    and its ``claim``: who is reviewing it now (``{user, claimed_s, expires_s}``), or
    null; ``free=true`` leaves out the calls someone else is reviewing."""
    if since is not None and until is not None and until <= since:
        raise HTTPException(400, f"until ({until}) must be after since ({since})")
    page = await service.worker.call(
        service.store.qa_queue, check=check, agent_id=agent or None, min_score=min_score,
        since_s=since, until_s=until, status=None if status == "all" else status, sort=sort,
        limit=limit, offset=offset, free_for=user.name if free else None)
    return {"total": page["total"], "limit": limit, "offset": offset,
            "calls": [_public(c) for c in page["calls"]]}


@router.get("/api/qa/export.csv")
async def qa_export(
    user: QaReader, service: ServiceDep,
    check: str | None = Query(None, pattern=CHECK_NAME),
    agent: Annotated[Name | None, Query(max_length=200)] = None,
    since: float | None = Query(None, ge=0, description="recorded (else analysed) at or "
                                "after, unix s"),
    until: float | None = Query(None, ge=0, description="recorded before, unix s"),
    verdict: Literal["confirmed", "dismissed", "judged", "open", "all"] = "all",
) -> Response:
    """The current flags with their verdicts as a CSV file (:mod:`voiceline.qa_export`),
    oldest recording first, for QA leads' reports; audited."""
    from voiceline.qa_export import to_csv

    if since is not None and until is not None and until <= since:
        raise HTTPException(400, f"until ({until}) must be after since ({since})")

    def export() -> tuple[str, int]:
        flags = service.store.qa_flag_report(
            since_s=since, until_s=until, agent_id=agent or None, check=check,
            verdict=None if verdict == "all" else verdict)
        service.store.audit(user.name, "qa_export", None,
                            {"rows": len(flags), "since": since, "until": until,
                             "agent": agent, "check": check, "verdict": verdict})
        return to_csv(flags), len(flags)

    text, n = await service.worker.call(export)
    day = time.strftime("%Y%m%d")
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="voiceline-qa-{day}.csv"',
                             "X-Rows": str(n), "Cache-Control": "private, no-store"})


@router.post("/api/qa/calls/{call_id:path}/claim")
async def claim_call(call_id: Name, user: QaReviewer, service: ServiceDep) -> JSONResponse:
    """Say that this reviewer is reviewing the call now (the call page does, and renews it
    every minute): other reviewers see it in the queue, and ``free=true`` leaves it out of
    theirs. 200 ``{claim, mine: true}``; 409 ``{detail, claim, mine: false}`` while another
    reviewer's claim holds (they may still read and judge: it is a courtesy, not a lock).
    A claim lapses :data:`~voiceline.store.qa.CLAIM_TTL_S` after its last renewal."""
    held = await service.worker.call(service.store.claim_qa_call, call_id, user.name)
    if held["mine"]:
        return JSONResponse(held)
    claim = held["claim"]
    return JSONResponse({**held, "detail": f"{claim['user']} is reviewing call {call_id}"},
                        status_code=409)


@router.delete("/api/qa/calls/{call_id:path}/claim")
async def release_call(call_id: Name, user: QaReviewer, service: ServiceDep) -> dict:
    """End this reviewer's claim (they left the call page); ``released`` false if they
    held none."""
    return {"released": await service.worker.call(service.store.release_qa_claim, call_id,
                                                  user.name)}


@router.post("/api/qa/flags/{flag_id}/verdict")
async def flag_verdict(user: QaReviewer, flag_id: FlagId, body: VerdictBody,
                       service: ServiceDep) -> dict:
    """Confirm or dismiss a flag with a note (qa, admin); a later verdict replaces an
    earlier one, and the store audits each."""
    note = body.note.strip() if body.note else None
    seen = body.seen.model_dump() if body.seen is not None else None
    return await service.worker.call(service.store.set_flag_verdict, flag_id, body.verdict,
                                     user.name, note or None, seen=seen)


@router.get("/api/qa/precision")
async def check_precision(
    user: QaReader, service: ServiceDep,
    target: float = Query(TARGET_PRECISION, ge=0.5, le=0.99,
                          description="the precision a suggested threshold must reach"),
) -> list[dict]:
    """Per check: flags raised (``current``: of the latest inspections), reviewers'
    ``confirmed`` and ``dismissed``, ``precision`` = confirmed / judged (None until
    judged), and for checks with a threshold the ``suggestion`` the verdicts make
    (:mod:`qa.tuning`); for ``forbidden_phrase``, the verdicts per phrase (``phrases``,
    with ``drop`` for those reviewers keep dismissing). Thresholds are set with
    ``voiceline qa --config FILE``; ``voiceline qa-tune`` writes that file from the same
    suggestions."""
    def read() -> list[dict]:
        rows = service.store.qa_check_precision()
        judged = service.store.qa_judged_flags()
        tips = suggest_all(judged, target=target)
        phrases = [v.to_json() for v in phrase_verdicts(judged, target=target)]
        return [{**r, "suggestion": tips[r["check"]].to_json() if r["check"] in tips
                 else None, **({"phrases": phrases} if r["check"] == "forbidden_phrase"
                               else {})} for r in rows]

    return await service.worker.call(read)


# -- audio ----------------------------------------------------------------------------------

def _audio_token(call_id: str, session_digest: str) -> str:
    payload = json.dumps([call_id, session_digest], separators=(",", ":")).encode()
    mac = hmac.new(_AUDIO_KEY, payload, hashlib.sha256).digest()[:18]
    return (base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + "."
            + base64.urlsafe_b64encode(mac).decode())


def audio_url(call_id: str, session_token: str) -> str:
    """The audio link of a call for the holder of ``session_token`` (see the module doc)."""
    return (f"/api/qa/calls/{quote(call_id, safe='')}/audio?audio_token="
            f"{_audio_token(call_id, token_sha256(session_token))}")


def _session_of_audio_token(token: str, call_id: str) -> str | None:
    """The session digest an audio token was issued to, if it is genuine and for call_id.

    The MAC is checked (in constant time) before the payload is parsed: only what this
    server wrote is ever parsed, never a payload a client made up.
    """
    head, _, mac = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        given = base64.urlsafe_b64decode(mac)
    except ValueError:  # not base64, or not ASCII at all
        return None
    want = hmac.new(_AUDIO_KEY, payload, hashlib.sha256).digest()[:18]
    if not hmac.compare_digest(want, given):
        return None
    token_call, digest = json.loads(payload)  # [call_id, session digest], as written
    return digest if token_call == call_id else None


def _reader_of_session(store, digest: str, now_s: float, call_id: str | None = None
                       ) -> User | None:
    """The user of a live session with this token digest, if they may read QA results,
    or hear ``call_id`` as the agent who took it."""
    row = store.find_token(digest)
    if (row is None or row["kind"] != "session" or row["revoked_s"] is not None
            or (row["expires_s"] is not None and now_s >= row["expires_s"])):
        return None
    try:
        user = User(**store.get_user_by_id(row["user_id"]))
    except KeyError:
        return None
    if user.disabled_s is not None:
        return None
    if user.role in QA_READERS:
        return user
    if user.role == "agent" and call_id is not None and user.agent_id is not None:
        try:
            call = store.qa_call(call_id)
        except KeyError:
            return None
        tenure = tenure_start_s(store, user)  # a reused id: not the previous person's
        when = call["recorded_s"] if call["recorded_s"] is not None else call["analysed_s"]
        own = call.get("agent_id") == user.agent_id and (tenure is None or when >= tenure)
        return user if own else None
    return None


async def _audio_reader(request: Request, service, call_id: str,
                        audio_token: str | None) -> User:
    if audio_token is None or request.headers.get("authorization"):
        user = await current_user(request)
        if user.role not in QA_READERS:
            raise HTTPException(403, f"role {user.role} may not hear QA recordings")
        return user
    digest = _session_of_audio_token(audio_token, call_id)
    user = None if digest is None else await service.worker.call(
        _reader_of_session, service.store, digest, time.time(), call_id)
    if user is None:
        raise HTTPException(401, "this audio link is not valid (any more): reload the call "
                                 "page for a new one", headers={"WWW-Authenticate": "Bearer"})
    return user


#: A reviewer's playback of one recording is one audit entry for this long, however many
#: range requests the player makes (seeking, buffering).
HEARD_EVERY_S = 600.0


class _Heard:
    """Who heard which recording lately, so that a playback is audited once."""

    def __init__(self, every_s: float = HEARD_EVERY_S, entries: int = 10_000) -> None:
        self.every_s, self.entries = every_s, entries
        self._last: dict[tuple[str, str], float] = {}

    def first(self, user: str, call_id: str, now_s: float) -> bool:
        key = (user, call_id)
        last = self._last.get(key)
        if last is not None and now_s - last < self.every_s:
            return False
        if len(self._last) >= self.entries:  # forget the stale, or everything at worst
            self._last = {k: t for k, t in self._last.items() if now_s - t < self.every_s}
            if len(self._last) >= self.entries:
                self._last.clear()
        self._last[key] = now_s
        return True


_heard = _Heard()


async def _recording(service, call_id: str) -> Path:
    path = Path(await service.worker.call(service.store.qa_paths, call_id))
    if not path.is_file():
        raise HTTPException(404, f"the recording of call {call_id!r} ({path.name}) is no "
                                 "longer where it was inspected; restore it or run "
                                 "voiceline qa on its new place")
    return path


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The byte span ``[start, end)`` of a single-range ``Range`` header, or ``None`` to
    send the whole file (several ranges: allowed to be ignored, RFC 9110 §14.2).

    Raises
    ------
    ValueError
        The header is malformed or the range starts beyond the file (answered 416).
    """
    unit, eq, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not eq:
        return None  # a unit not understood is ignored: the whole file (RFC 9110 §14.2)
    parts = [part for part in spec.split(",") if part.strip()]  # empty elements: ignored
    if not parts:
        raise ValueError(f"no range in {header[:60]!r}; use 'bytes=START-END'")
    spans = []
    for part in parts:
        match = _RANGE.match(part)
        if match is None or match.group(1) == match.group(2) == "":
            raise ValueError(f"malformed range {part.strip()[:40]!r}; use 'bytes=START-END', "
                             "'bytes=START-' or 'bytes=-LAST_N'")
        first, last = (d.lstrip("0") or ("0" if d else "") for d in match.groups())
        if len(first) > _MAX_DIGITS:
            first = str(size)  # beyond the file
        if len(last) > _MAX_DIGITS:
            last = str(size)  # to its end (a suffix: all of it)
        if first == "":  # the last N bytes
            n = int(last)
            if n == 0 or size == 0:
                raise ValueError("a suffix range of 0 bytes selects nothing")
            spans.append((max(size - n, 0), size))
            continue
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
        if last != "" and int(last) < start:
            raise ValueError(f"range {part.strip()[:40]!r} ends before it starts")
        if start >= size:
            if len(parts) > 1:  # one of several: the others may still be served
                continue
            raise ValueError(f"range {part.strip()[:40]!r} starts beyond the file's "
                             f"{size} bytes")
        spans.append((start, end))
    if not spans:
        raise ValueError(f"no range of {header[:60]!r} lies within the file's {size} bytes")
    return spans[0] if len(parts) == 1 else None


def _file_chunks(path: Path, start: int, end: int):
    with path.open("rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            chunk = fh.read(min(_CHUNK_BYTES, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@router.api_route("/api/qa/calls/{call_id:path}/audio", methods=["GET", "HEAD"])
async def qa_audio(call_id: Name, request: Request, service: ServiceDep,
                   audio_token: str | None = Query(None, max_length=2000)) -> Response:
    """The call's recording as inspected, with byte ranges (206 Partial Content; 416 for a
    range that is malformed or beyond the file). Auth: a session (qa, admin, supervisor)
    or the ``audio_token`` of the call's ``audio_url``. ``HEAD`` gives the same headers
    without the audio (players and download tools ask it first) and is not a listen."""
    user = await _audio_reader(request, service, call_id, audio_token)
    path = await _recording(service, call_id)
    head = request.method == "HEAD"
    if not head and _heard.first(user.name, call_id, time.monotonic()):  # not every range
        service.worker.submit(service.store.audit, user.name, "qa_listen", f"qa_call:{call_id}",
                              {"file": path.name})
    stat = path.stat()
    size = stat.st_size
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type == "audio/x-wav":
        media_type = "audio/wav"
    etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, no-cache"}
    span = None
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if header is not None and (if_range is None or if_range == etag):
        try:
            span = parse_range(header, size)
        except ValueError as exc:
            return JSONResponse({"detail": f"{exc} (the recording has {size} bytes)"},
                                status_code=416, headers={**headers,
                                                          "Content-Range": f"bytes */{size}"})
    if span is None:
        start, end, status = 0, size, 200
    else:
        (start, end), status = span, 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if head:
        return Response(status_code=status, media_type=media_type, headers=headers)
    return StreamingResponse(_file_chunks(path, start, end), status_code=status,
                             media_type=media_type, headers=headers)


# -- timeline -------------------------------------------------------------------------------

def level_envelope(samples: np.ndarray, hop_n: int) -> np.ndarray:
    """RMS level per hop in dB re full scale (a full-scale square wave is 0 dB).

    Parameters
    ----------
    samples : ndarray, shape (channels, samples)
        Digital full scale ±1.
    hop_n : int
        Samples per level; a last, shorter hop is measured over what it has.

    Returns
    -------
    ndarray, shape (channels, ceil(samples / hop_n))
        Levels, floored at ``LEVEL_FLOOR_DBFS``.
    """
    channels, n = samples.shape
    frames = -(-n // hop_n)
    power = np.empty((channels, frames))
    whole = n // hop_n
    if whole:
        blocks = samples[:, :whole * hop_n].reshape(channels, whole, hop_n)
        power[:, :whole] = np.einsum("cfk,cfk->cf", blocks, blocks) / hop_n
    if frames > whole:
        tail = samples[:, whole * hop_n:]
        power[:, whole] = np.einsum("ck,ck->c", tail, tail) / tail.shape[1]
    floor = 10.0 ** (LEVEL_FLOOR_DBFS / 10.0)
    return 10.0 * np.log10(np.maximum(power, floor))


def timeline_of(path: Path) -> dict:
    """Per-channel RMS levels of a recording for drawing (see ``level_envelope``)."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path.name}: cannot read the audio header ({exc})") from None
    fs_hz, channels, n = int(info.samplerate), int(info.channels), int(info.frames)
    duration_s = n / fs_hz if fs_hz else 0.0
    if duration_s > MAX_TIMELINE_S:
        raise AudioError(f"{path.name} lasts {duration_s / 3600:.1f} h; timelines are drawn "
                         f"for recordings up to {MAX_TIMELINE_S / 3600:.0f} h")
    hop_s = TIMELINE_HOP_S * max(1, math.ceil(duration_s / TIMELINE_HOP_S
                                              / MAX_TIMELINE_POINTS))
    hop_n = max(1, round(hop_s * fs_hz))
    if n * channels <= FULL_READ_SAMPLES:
        clip = read_audio(path)
        levels = level_envelope(clip.samples, hop_n)
    else:
        parts = []
        try:
            with sf.SoundFile(str(path)) as fh:
                for block in fh.blocks(blocksize=hop_n * 1024, dtype="float64",
                                       always_2d=True):
                    parts.append(level_envelope(block.T, hop_n))
        except sf.LibsndfileError as exc:
            raise AudioError(f"{path.name}: the audio data cannot be decoded "
                             f"({exc.error_string})") from None
        levels = np.concatenate(parts, axis=1)
    return {"fs_hz": fs_hz, "duration_s": round(duration_s, 3), "hop_s": round(hop_s, 3),
            "floor_dbfs": LEVEL_FLOOR_DBFS,
            "level_dbfs": np.round(levels, 1).tolist()}


class _TimelineCache:
    """Recently drawn timelines by file identity (path, size, mtime); one computed at a
    time, so a burst of page loads cannot take every core of a shared machine."""

    def __init__(self, entries: int = TIMELINE_CACHE_ENTRIES) -> None:
        self.entries = entries
        self._done: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = asyncio.Lock()

    async def get(self, path: Path) -> dict:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        async with self._lock:
            if key not in self._done:
                self._done[key] = await asyncio.to_thread(timeline_of, path)
                while len(self._done) > self.entries:
                    self._done.popitem(last=False)
            return self._done[key]


_timelines = _TimelineCache()


def _agent_channel(call: dict) -> int:
    # ``voiceline qa --agent-channel`` is not stored with the result yet; 0 is its default.
    value = (call.get("metrics") or {}).get("agent_channel", 0)
    return value if value in (0, 1) else 0


@router.get("/api/qa/calls/{call_id:path}/timeline")
async def qa_timeline(call_id: Name, user: QaReader, service: ServiceDep) -> dict:
    """The recording's RMS level per channel over time, for drawing: ``level_dbfs`` shaped
    (channels, points) every ``hop_s`` (0.1 s, coarser for calls over 10 min), and which
    channel is the agent's. 422 when the file cannot be read."""
    call = await service.worker.call(service.store.qa_call, call_id)
    path = await _recording(service, call_id)
    try:
        timeline = await _timelines.get(path)
    except AudioError as exc:
        raise HTTPException(422, f"cannot draw call {call_id!r}: {_named(str(exc), path)}"
                            ) from None
    agent = _agent_channel(call)
    roles = ["agent", "caller"] if agent == 0 else ["caller", "agent"]
    n_channels = len(timeline["level_dbfs"])
    return {"call_id": call_id, **timeline, "agent_channel": agent,
            "channels": roles[:n_channels] + ["other"] * max(0, n_channels - 2)}


# -- the call itself, registered last: a call id may hold "/" (``q/2025/0001``; the
# console sends it as %2F, which arrives decoded), so the routes match the id as a path,
# and ``…/audio``, ``…/timeline`` and ``…/claim`` must be tried before the bare call.

@router.get("/api/qa/calls/{call_id:path}")
async def qa_call(call_id: Name, request: Request, user: QaReader, service: ServiceDep) -> dict:
    """One inspected call with its flags and verdicts, and an ``audio_url`` for the page's
    player (valid while this session is)."""
    call = await service.worker.call(service.store.qa_call, call_id)
    digest = token_sha256(bearer_token(request.headers.get("authorization")) or "")
    audio_token = _audio_token(call_id, digest)
    return {**_public(call), "agent_channel": _agent_channel(call),
            "audio_url": f"/api/qa/calls/{quote(call_id, safe='')}/audio?audio_token="
                         f"{audio_token}"}
