"""One call's connection to the server, in each ingest protocol.

A connection is opened for one call (one *wire* call id), carries its audio frames and
ends it the way the protocol does, as a PBX would:

- **audiofork**: websocket ``/ingest/audiofork``; the JSON metadata text message, then
  binary 16-bit little-endian PCM, stereo interleaved (agent channel 0) or mono;
  ``{"event": "stop"}`` at the end.
- **twilio**: websocket ``/ingest/twilio``; ``connected``, ``start`` (``customParameters``
  seat, agent, ``agent_track=outbound``), then per frame one ``media`` message per track
  (``outbound`` = agent, ``inbound`` = caller; base64 μ-law, ``chunk`` counting from 1,
  ``timestamp`` in ms since the stream began), ``stop`` at the end.
- **audiosocket**: ``POST /api/audiosocket/bind`` ``{uuid, seat, agent, channel}``, then a
  TCP connection: the UUID message, 20 ms slin messages of the agent channel, hang-up.

The protocols' own encoders (:mod:`capture.ingest`) write every message. Failures a
retry may cure (refused connection, lost connection, a 5xx) raise ``OSError`` or a
``websockets`` exception; those it cannot (a refused token, no such endpoint) raise
:class:`~voiceline.sources.endpoints.SourceError`.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from typing import Protocol

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, InvalidURI, WebSocketException

from capture.g711 import ulaw_encode
from capture.ingest import audiofork, audiosocket, twilio
from voiceline.sources.endpoints import Endpoints, SourceError, auth_headers

__all__ = [
    "RETRYABLE",
    "AudioForkConnection",
    "AudioSocketConnection",
    "CallConnection",
    "TwilioConnection",
    "audiosocket_uuid",
    "open_call",
]

RETRYABLE = (OSError, EOFError, WebSocketException)
"""Exceptions after which a source reconnects (TimeoutError and ConnectionError are
OSErrors)."""

_UUID_NAMESPACE = uuid.UUID("6f1d7c1e-4a0b-5d4e-9a51-766f6963656c")
_CLOSE_TIMEOUT_S = 2.0


class CallConnection(Protocol):
    """An open connection carrying one call's audio."""

    async def send(self, frame: np.ndarray) -> None:
        """Send one frame, int16 shaped ``(channels, samples)``, channel 0 the agent."""

    async def close(self, reason: str | None = None) -> None:
        """End the call the protocol's way (stop / hang-up) and close the connection."""

    def abort(self) -> None:
        """Drop the connection at once, without ending the call."""


def audiosocket_uuid(call_id: str) -> str:
    """The AudioSocket UUID of a call id: a name-based UUID (v5), the same every run."""
    return str(uuid.uuid5(_UUID_NAMESPACE, call_id))


async def open_call(
    protocol: str,
    endpoints: Endpoints,
    *,
    call_id: str,
    seat: str,
    agent: str | None,
    channels: int,
    fs_hz: int,
    token: str | None,
    open_timeout_s: float = 10.0,
) -> CallConnection:
    """Connect and start a call in ``protocol``.

    Parameters
    ----------
    protocol : {"audiofork", "twilio", "audiosocket"}
    endpoints : Endpoints
        The server's addresses.
    call_id, seat : str
        The call's id on the wire and its seat.
    agent : str or None
        The agent; None when unknown.
    channels : int
        1 (the agent alone) or 2 (agent, caller).
    fs_hz : int
        Sample rate of the frames; twilio and audiosocket carry 8000 Hz only.
    token : str or None
        Ingest token (``Authorization: Bearer``).
    open_timeout_s : float
        Give up connecting after this long (a retryable ``TimeoutError``).

    Returns
    -------
    CallConnection
    """
    if protocol == "audiofork":
        return await AudioForkConnection.open(
            endpoints, call_id, seat, agent, channels, fs_hz, token, open_timeout_s
        )
    if fs_hz != 8000:
        raise ValueError(f"{protocol} carries 8000 Hz audio only, got {fs_hz} Hz")
    if protocol == "twilio":
        return await TwilioConnection.open(
            endpoints, call_id, seat, agent, channels, token, open_timeout_s
        )
    if protocol == "audiosocket":
        return await AudioSocketConnection.open(endpoints, call_id, seat, agent, token,
                                                open_timeout_s)
    raise ValueError(f"unknown protocol {protocol!r}; use audiofork, twilio or audiosocket")


async def _ws_connect(url: str, token: str | None, open_timeout_s: float) -> ClientConnection:
    try:
        return await connect(
            url,
            additional_headers=auth_headers(token),
            open_timeout=open_timeout_s,
            close_timeout=_CLOSE_TIMEOUT_S,
            compression=None,  # PCM and μ-law do not deflate; spare the CPU
            max_queue=4,
        )
    except InvalidURI as exc:
        raise SourceError(f"{url} is not a websocket URL ({exc})") from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise SourceError(
                f"the server refused the ingest token at {url} (HTTP {status}); pass the "
                "server's ingest token with --token or VOICELINE_INGEST_TOKEN"
            ) from None
        if status == 404:
            raise SourceError(
                f"no ingest endpoint at {url} (HTTP 404); is --server a Voiceline server?"
            ) from None
        raise


class AudioForkConnection:
    """A call streamed in the audio-fork protocol (see the module docstring)."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    @classmethod
    async def open(
        cls,
        endpoints: Endpoints,
        call_id: str,
        seat: str,
        agent: str | None,
        channels: int,
        fs_hz: int,
        token: str | None,
        open_timeout_s: float,
    ) -> AudioForkConnection:
        ws = await _ws_connect(endpoints.ingest_url("audiofork"), token, open_timeout_s)
        try:
            await ws.send(audiofork.start_message(call_id, seat, agent, fs_hz=fs_hz,
                                                  channels=channels, agent_channel=0))
        except BaseException:
            ws.transport.abort()
            raise
        return cls(ws)

    async def send(self, frame: np.ndarray) -> None:
        await self._ws.send(audiofork.pcm_message(frame))

    async def close(self, reason: str | None = None) -> None:
        try:
            await self._ws.send(audiofork.stop_message(reason))
        finally:
            await self._ws.close()

    def abort(self) -> None:
        self._ws.transport.abort()


class TwilioConnection:
    """A call streamed as Twilio Media Streams (see the module docstring)."""

    def __init__(self, ws: ClientConnection, call_sid: str, stream_sid: str,
                 tracks: tuple[str, ...]) -> None:
        self._ws = ws
        self._call_sid, self._stream_sid = call_sid, stream_sid
        self._tracks = tracks  # in channel order: outbound (agent), then inbound (caller)
        self._sequence = 1  # the start message's
        self._chunk = 0
        self._samples = 0

    @classmethod
    async def open(
        cls,
        endpoints: Endpoints,
        call_id: str,
        seat: str,
        agent: str | None,
        channels: int,
        token: str | None,
        open_timeout_s: float,
    ) -> TwilioConnection:
        tracks = ("outbound", "inbound")[:channels]
        stream_sid = "MZ" + uuid.uuid5(_UUID_NAMESPACE, "stream/" + call_id).hex
        ws = await _ws_connect(endpoints.ingest_url("twilio"), token, open_timeout_s)
        try:
            await ws.send(twilio.connected_message())
            await ws.send(twilio.start_message(
                call_id, stream_sid, seat=seat, agent=agent, agent_track="outbound",
                tracks=tuple(sorted(tracks)), sequence_number=1,
            ))
        except BaseException:
            ws.transport.abort()
            raise
        return cls(ws, call_id, stream_sid, tracks)

    async def send(self, frame: np.ndarray) -> None:
        codes = ulaw_encode(frame[: len(self._tracks)])
        self._chunk += 1
        timestamp_ms = self._samples // 8  # 8 samples per ms at 8 kHz
        self._samples += frame.shape[1]
        for track, row in zip(self._tracks, codes, strict=True):
            self._sequence += 1
            await self._ws.send(twilio.media_message(
                track, self._chunk, timestamp_ms, row.tobytes(), self._sequence,
                stream_sid=self._stream_sid,
            ))

    async def close(self, reason: str | None = None) -> None:
        try:
            self._sequence += 1
            await self._ws.send(twilio.stop_message(self._call_sid, self._sequence,
                                                    stream_sid=self._stream_sid))
        finally:
            await self._ws.close()

    def abort(self) -> None:
        self._ws.transport.abort()


class AudioSocketConnection:
    """A call streamed over AudioSocket, its UUID bound first (see the module docstring)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._peer_closed = False
        self._watcher = asyncio.create_task(self._watch(reader))

    @classmethod
    async def open(
        cls,
        endpoints: Endpoints,
        call_id: str,
        seat: str,
        agent: str | None,
        token: str | None,
        open_timeout_s: float,
    ) -> AudioSocketConnection:
        call_uuid = audiosocket_uuid(call_id)
        body = {"uuid": call_uuid, "seat": seat, "agent": agent, "channel": "agent"}
        await asyncio.to_thread(_post_bind, endpoints.bind_url, body, token, open_timeout_s)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(endpoints.audiosocket_host, endpoints.audiosocket_port),
            open_timeout_s,
        )
        try:
            writer.write(audiosocket.uuid_message(call_uuid))
            await writer.drain()
        except BaseException:
            writer.transport.abort()
            raise
        return cls(reader, writer)

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        """Read (and ignore) what the server sends, to notice when it closes."""
        try:
            while await reader.read(4096):
                pass
        except OSError:
            pass
        self._peer_closed = True

    async def send(self, frame: np.ndarray) -> None:
        if self._peer_closed or self._writer.is_closing():
            raise ConnectionResetError("the server closed the AudioSocket connection")
        self._writer.write(audiosocket.audio_message(frame[0]))
        await self._writer.drain()

    async def close(self, reason: str | None = None) -> None:
        try:
            if not self._peer_closed:
                self._writer.write(audiosocket.hangup_message())
                await self._writer.drain()
        finally:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), _CLOSE_TIMEOUT_S)
            except (OSError, TimeoutError):
                pass
            self._watcher.cancel()

    def abort(self) -> None:
        self._writer.transport.abort()
        self._watcher.cancel()


def _post_bind(url: str, body: dict, token: str | None, timeout_s: float) -> None:
    """``POST`` the binding of an AudioSocket UUID (blocking; run in a thread)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", **auth_headers(token)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        status = exc.code
        if status in (401, 403):
            raise SourceError(
                f"the server refused the ingest token at {url} (HTTP {status}); pass the "
                "server's ingest token with --token or VOICELINE_INGEST_TOKEN"
            ) from None
        if status in (404, 405):
            raise SourceError(
                f"no AudioSocket bind endpoint at {url} (HTTP {status}); is --server a "
                "Voiceline server?"
            ) from None
        if 400 <= status < 500:
            raise SourceError(f"the server rejected the binding {body} at {url} "
                              f"(HTTP {status}): {detail}") from None
        raise ConnectionError(f"binding the call at {url} failed (HTTP {status})") from None
    except urllib.error.URLError as exc:
        raise ConnectionError(f"cannot reach {url} to bind the call ({exc.reason})") from None

