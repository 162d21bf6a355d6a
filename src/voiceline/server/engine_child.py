"""The engine process's side of :mod:`voiceline.server.engine_process`.

Run as ``python -m voiceline.server.engine_child FD`` by
:class:`~voiceline.server.engine_process.ProcessEngine`, ``FD`` its end of a socket pair
in :mod:`multiprocessing.connection`'s framing. It builds the engine from the server's
settings, ticks it in a thread with :class:`~voiceline.server.engine_runner.EngineRunner`
and sends every result back, while the main thread applies the server's messages: calls
opened and closed, then audio (:func:`~voiceline.server.engine_messages.apply_batch`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from voiceline.server.engine_messages import apply_batch
from voiceline.server.engine_runner import EngineRunner, build_engine
from voiceline.server.heap import freeze_startup_heap


def engine_process_main(conn: Connection) -> None:
    """The engine process: build the engine, tick it, apply the server's messages.

    The first message is ``(config, period_s)``. Ends when the server says ``stop`` or
    its end of the socket closes (the server has gone), so it never outlives the server.
    """
    # Ctrl-C, and a service manager's SIGTERM to the whole process group, are the
    # server's: it ends the calls first, then stops this process. Taken here, the server
    # saw its engine end while it shut down and started a new one. (SIGKILL still ends
    # it, and the server replaces it; the end of the socket ends it when the server dies.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s voiceline engine process: %(message)s")
    from voiceline.server.baselines import BaselineBook

    try:
        config, period_s = conn.recv()
    except (EOFError, OSError):
        return
    try:
        engine = build_engine(config, BaselineBook(config.baselines_dir))
    except Exception as exc:  # reported to the server, which says it and stops
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    send_lock = threading.Lock()
    runner: EngineRunner

    def send_result(result: Any, latency_s: float) -> None:
        stats = engine.stats | {"overruns": runner.overruns, "failures": runner.failures}
        with send_lock:
            conn.send(("tick", result, latency_s, stats))

    freeze_startup_heap()
    runner = EngineRunner(engine, period_s, send_result, None)
    conn.send(("ready", {"feature_names": tuple(engine.model.feature_names),
                         "channel_type": engine.channel_type}))
    runner.start()
    try:
        while True:
            message = conn.recv()
            if message[0] == "stop":
                break
            for reply in apply_batch(engine, message):
                with send_lock:
                    conn.send(reply)
    except (EOFError, OSError):  # the server has gone
        pass
    finally:
        runner.stop()


if __name__ == "__main__":
    engine_process_main(Connection(int(sys.argv[1])))
