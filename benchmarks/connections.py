"""Connection flood: idle sockets on every port against the budgets and waiting limits.

Usage::

    python benchmarks/connections.py [--quick] [--idle N] [--seconds S]

A real ``voiceline serve`` (a child process, its engine in another) on free ports. One
control seat streams 20 ms audio-fork frames over the lean port for the whole run
while this process opens ``--idle`` TCP sockets to each of the three ports (HTTP, lean
ingest, AudioSocket) and sends nothing on them, as the eleventh round's fuzzing did
(19,500 of them held the process near its 20,000 descriptors). It then watches:

- per port, how many sockets were closed within 1 s of opening (over
  ``max_connections``: refused as accepted) and when the last one was closed (the
  ``handshake_timeout_s`` deadline);
- ``GET /healthz`` every 0.25 s throughout (latency);
- the control seat: frames sent against frames the server counted, and whether its
  connection was ever closed.

The default run uses the shipped limits (2,000 connections per port, 10 s) and 2,500
idle sockets per port, about a minute. ``--quick`` (under a minute, for tests) uses a
budget of 100 and a 2 s deadline for 150 sockets per port, the engine in the server's
process (it starts faster). Prints a table and, as its
last line, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from capture.ingest import audiofork  # noqa: E402

PORTS = ("http", "ingest", "audiosocket")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _voiceline(*args: str) -> list[str]:
    return [sys.executable, "-m", "voiceline", *args]


def start_server(data: Path, ports: dict[str, int], limits: dict) -> subprocess.Popen:
    config = data / "limits.toml"
    config.write_text("[server]\n" + "".join(f"{k} = {v!r}\n" for k, v in limits.items()))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    log = open(data / "server.log", "w")
    server = subprocess.Popen(_voiceline(
        "serve", "--data", str(data), "--port", str(ports["http"]), "--ingest-port",
        str(ports["ingest"]), "--audiosocket-port", str(ports["audiosocket"]),
        "--config", str(config)), stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/healthz", timeout=1)
            return server
        except OSError:
            if server.poll() is not None:
                log = (data / "server.log").read_text()
                raise RuntimeError(f"the server exited: {log}") from None
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server did not start in 90 s")


def ingest_token(data: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(_voiceline("user", "token", "--ingest", "bench", "--data", str(data)),
                         capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip()


def metric(text: str, name: str, labels: str = "") -> float:
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def control_seat(url: str, stop: asyncio.Event) -> dict:
    """Stream 20 ms frames in real time until ``stop``; what was sent and how it ended."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    tone = (3000 * np.sin(2 * np.pi * 180 * np.arange(160) / 8000)).astype(np.int16)
    frame = audiofork.pcm_message(tone)
    sent, closed_by_server = 0, None
    async with connect(url) as ws:
        await ws.send(audiofork.start_message("control-1", "S-CONTROL", "A-CONTROL"))
        t0 = time.monotonic()
        try:
            while not stop.is_set():
                await ws.send(frame)
                sent += 1
                await asyncio.sleep(max(0.0, t0 + sent * 0.02 - time.monotonic()))
            await ws.send(audiofork.stop_message("done"))
        except ConnectionClosed as exc:
            closed_by_server = f"{exc.rcvd.code if exc.rcvd else None} {exc}"
    return {"frames_sent": sent, "closed_by_server": closed_by_server}


def open_idle(ports: dict[str, int], n: int, into: dict[str, list]) -> None:
    """Open ``n`` sockets to each port, interleaved, appending (socket, opened at)."""
    for _ in range(n):
        for name, port in ports.items():
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            into[name].append((sock, time.monotonic()))


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


async def run(args: argparse.Namespace) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 3 * args.idle + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    limits = {"max_connections": args.max_connections,
              "handshake_timeout_s": float(args.handshake_timeout_s)}
    if args.quick:  # the engine in the server's process: a faster start, the same limits
        limits["engine_mode"] = "thread"
    ports = {name: _free_port() for name in PORTS}
    with tempfile.TemporaryDirectory(prefix="vl-conn-") as tmp:
        data = Path(tmp)
        token = ingest_token(data)
        server = start_server(data, ports, limits)
        try:
            return await _flood(args, ports, token, limits)
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


async def _flood(args, ports: dict, token: str, limits: dict) -> dict:
    stop = asyncio.Event()
    control = asyncio.create_task(control_seat(
        f"ws://127.0.0.1:{ports['ingest']}/ingest/audiofork?token={token}", stop))
    health_ms: list[float] = []

    async def watch_health() -> None:
        url = f"http://127.0.0.1:{ports['http']}/healthz"
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                await asyncio.to_thread(urllib.request.urlopen, url, timeout=5)
                health_ms.append(1000 * (time.perf_counter() - t0))
            except OSError:
                health_ms.append(float("inf"))
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch_health())
    await asyncio.sleep(1.0)
    t_open = time.monotonic()
    sockets: dict[str, list] = {name: [] for name in PORTS}
    opening = asyncio.create_task(asyncio.to_thread(
        open_idle, {name: ports[name] for name in PORTS}, args.idle, sockets))
    first_close: dict[str, dict[int, float]] = {name: {} for name in PORTS}

    def look() -> None:
        now = time.monotonic()
        for name in PORTS:
            seen = first_close[name]
            for i, (sock, _) in enumerate(list(sockets[name])):
                if i not in seen and closed(sock):
                    seen[i] = now

    while not opening.done():  # closes seen as they happen, while sockets open
        look()
        await asyncio.sleep(0.05)
    await opening
    opened_s = time.monotonic() - t_open
    deadline = time.monotonic() + limits["handshake_timeout_s"] + args.seconds
    while time.monotonic() < deadline:
        look()
        if all(len(first_close[n]) == args.idle for n in PORTS):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    stop.set()
    seat = await control
    await watcher
    with urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{ports['http']}/metrics",
            headers={"Authorization": f"Bearer {token}"}), timeout=5) as response:
        metrics = response.read().decode()
    per_port = {}
    for name in PORTS:
        lifetimes = [first_close[name][i] - opened for i, (_, opened) in
                     enumerate(sockets[name]) if i in first_close[name]]
        per_port[name] = {
            "refused_at_once": sum(1 for s in lifetimes if s < 1.0),
            "closed_later": sum(1 for s in lifetimes if s >= 1.0),
            "still_open": args.idle - len(lifetimes),
            "longest_open_s": round(max(lifetimes), 2) if lifetimes else None,
            "cut_limit": metric(metrics, "voiceline_connections_cut_total",
                                f'{{port="{name}",reason="limit"}}'),
            "cut_handshake": metric(metrics, "voiceline_connections_cut_total",
                                    f'{{port="{name}",reason="handshake_timeout"}}'),
        }
        for sock, _ in sockets[name]:
            sock.close()
    received = metric(metrics, "voiceline_frames_received_total", '{protocol="audiofork"}')
    finite = [m for m in health_ms if m != float("inf")]
    return {
        "idle_per_port": args.idle, **limits, "opened_in_s": round(opened_s, 1),
        "ports": per_port,
        "healthz_n": len(health_ms), "healthz_failed": len(health_ms) - len(finite),
        "healthz_p50_ms": round(statistics.median(finite), 1) if finite else None,
        "healthz_max_ms": round(max(finite), 1) if finite else None,
        "healthz_last_ok": bool(health_ms) and health_ms[-1] != float("inf"),
        "control_frames_sent": seat["frames_sent"], "control_frames_received": int(received),
        "control_closed_by_server": seat["closed_by_server"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="150 sockets, budget 100, 2 s")
    parser.add_argument("--idle", type=int, default=None, help="idle sockets per port")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="how long past the deadline to keep watching")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_connections, args.handshake_timeout_s = 100, 2.0
        args.idle = args.idle or 150
    else:
        args.max_connections, args.handshake_timeout_s = 2000, 10.0
        args.idle = args.idle or 2500
    result = asyncio.run(run(args))
    print(f"{args.idle} idle sockets per port, max_connections {args.max_connections}, "
          f"handshake_timeout_s {args.handshake_timeout_s:g} (opened in "
          f"{result['opened_in_s']} s)")
    print(f"{'port':<12}{'refused at once':>16}{'closed later':>14}{'still open':>12}"
          f"{'longest open s':>16}")
    for name, p in result["ports"].items():
        print(f"{name:<12}{p['refused_at_once']:>16}{p['closed_later']:>14}"
              f"{p['still_open']:>12}{p['longest_open_s']!s:>16}")
    print(f"/healthz: {result['healthz_n']} requests, {result['healthz_failed']} failed, "
          f"median {result['healthz_p50_ms']} ms, max {result['healthz_max_ms']} ms")
    print(f"control seat: {result['control_frames_sent']} frames sent, "
          f"{result['control_frames_received']} counted by the server, closed by the server: "
          f"{result['control_closed_by_server']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
