"""``voiceline seat`` and ``voiceline simulate``: argument handling, signals, status lines.

Ctrl-C (SIGINT) or SIGTERM stops a source cleanly: calls in progress are ended the
protocol's way and connections closed. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from concurrent.futures.process import BrokenProcessPool

from voiceline.cli import UserError
from voiceline.sources.endpoints import SourceError, token_from_env

__all__ = ["run_seat_cli", "run_simulate_cli"]


def _setup_logging(command: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s voiceline {command}: %(message)s",
                        datefmt="%H:%M:%S")


def _stop_on_signals(stop) -> None:
    """Call ``stop()`` on the first SIGINT/SIGTERM; the second SIGINT interrupts at once."""
    loop = asyncio.get_running_loop()

    def first() -> None:
        logging.getLogger("voiceline.sources").info("stopping (Ctrl-C again to quit at once)")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, first)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass


#: Set by a process that starts ``voiceline simulate`` in a session of its own (the
#: demo) to its pid: the simulator stops when that process is gone, however it ended.
STOP_WITH_PARENT_ENV = "VOICELINE_STOP_WITH_PARENT"


def _stop_when_orphaned(stop, poll_s: float = 1.0) -> asyncio.Task | None:
    """Call ``stop()`` once the process named by :data:`STOP_WITH_PARENT_ENV` is no
    longer this one's parent (it ended, even by SIGKILL, which it cannot pass on)."""
    value = os.environ.get(STOP_WITH_PARENT_ENV, "")
    if not value.isdecimal():
        return None
    parent = int(value)

    async def watch() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(poll_s)
        logging.getLogger("voiceline.sources").info(
            "the process that started this one (pid %d) has ended: stopping", parent)
        stop()

    return asyncio.get_running_loop().create_task(watch(), name="stop-with-parent")


def _check_ids(agents: list[str], seats: list[str]) -> None:
    """The server's rule for ids, here, before the microphone or the voices: the server
    refuses such a call for good, and the client retried it with backoff forever."""
    from emotion.baseline import check_agent_id
    from voiceline.store import values

    try:
        for agent in agents:
            check_agent_id(values.identifier(agent, "agent"))
        for seat in seats:
            values.identifier(seat, "seat")
    except ValueError as exc:
        raise UserError(str(exc)) from None


def run_seat_cli(args: argparse.Namespace) -> int:
    """``voiceline seat``: stream this computer's headset until Ctrl-C."""
    from voiceline.sources.seat import stream_seat

    _setup_logging("seat")
    _check_ids([args.agent], [args.seat] if args.seat else [])
    device = args.device
    if device is not None and device.isdecimal():
        device = int(device)

    async def main():
        stop = asyncio.Event()
        _stop_on_signals(stop.set)
        return await stream_seat(args.server, args.agent, seat=args.seat, device=device,
                                 token=token_from_env(args.token), fs_hz=args.rate, stop=stop)

    try:
        result = asyncio.run(main())
    except SourceError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        return 130
    c = result.counters
    print(f"{c.frames_sent} frames sent in {len(result.call_ids)} call(s), "
          f"{c.frames_dropped} dropped, {c.reconnects} reconnects", file=sys.stderr)
    return 0


def run_simulate_cli(args: argparse.Namespace) -> int:
    """``voiceline simulate``: simulated seats (or replayed files) until Ctrl-C or --duration."""
    from voiceline.sources.simulate import Simulation

    _setup_logging("simulate")
    agents = [a.strip() for a in args.agents.split(",")] if args.agents else None
    _check_ids(agents or [], [])
    try:
        simulation = Simulation(
            args.server,
            seats=args.seats,
            protocol=args.protocol,
            token=token_from_env(args.token),
            seed=args.seed,
            duration_s=args.duration,
            agitation_every_s=args.agitation_every or None,
            low_energy_every_s=args.low_energy_every or None,
            replay=args.replay,
            agents=agents,
            audiosocket=args.audiosocket,
            run_id=args.run_id,
            frame_ms=args.frame_ms,
            on_status=lambda stats: print(stats.line(), file=sys.stderr, flush=True),
            status_every_s=args.status_every,
        )
    except (SourceError, ValueError) as exc:
        raise UserError(str(exc)) from None

    async def main():
        _stop_on_signals(simulation.stop)
        orphaned = _stop_when_orphaned(simulation.stop)
        try:
            return await simulation.run()
        finally:
            if orphaned is not None:
                orphaned.cancel()

    try:
        result = asyncio.run(main())
    except SourceError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        return 130
    except BrokenProcessPool:  # SIGTERM to the process group (a service manager), OOM
        print("voiceline simulate: the processes rendering the voices ended before the "
              "voices were ready (stopped by a signal, or out of memory); nothing was "
              "streamed", file=sys.stderr)
        return 1
    stats = simulation.stats
    if stats.frames_sent == 0 and stats.errors:  # it said "1 calls streamed", exit 0
        raise UserError(f"nothing reached {args.server}: {stats.last_error or 'no connection'}; "
                        "check the URL (http:// or https:// as the server speaks, the host "
                        "and the port) and that the server runs")
    episodes = sum(len(call.episodes) for call in result.calls)
    print(f"{len(result.calls)} calls streamed with {episodes} scheduled episodes, "
          f"{stats.frames_sent} frames sent", file=sys.stderr)
    return 0
