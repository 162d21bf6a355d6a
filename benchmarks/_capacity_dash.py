"""Dashboard clients for ``capacity.py``'s end-to-end section, in a process of their own.

Run as ``python benchmarks/_capacity_dash.py --url ws://HOST:PORT --clients 10`` with a
session token in ``VOICELINE_SESSION_TOKEN``. Each client follows ``/ws/alerts`` as the
web console does and stamps every alert message with ``time.time()`` on arrival (the
server and the benchmark share this machine's clock). Seat snapshots are counted, not
parsed. Prints ``{"event": "ready"}`` once all are connected; for every ``report`` line
on stdin prints what arrived since the last report::

    {"event": "report", "alerts": [[client, event_id, event, time_s, arrival_s], ...],
     "snapshots": N, "closed": [[client, code, reason], ...]}

EOF closes the clients and ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

TOKEN_ENV = "VOICELINE_SESSION_TOKEN"
ALERT_PREFIX = '{"type": "alert"'


class Clients:
    def __init__(self) -> None:
        self.alerts: list[list] = []
        self.snapshots = 0
        self.closed: list[list] = []

    async def follow(self, index: int, url: str, token: str, ready: asyncio.Queue) -> None:
        async with connect(f"{url}/ws/alerts", max_size=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            hello = json.loads(await ws.recv())
            await ready.put(hello)
            try:
                async for raw in ws:
                    arrival_s = time.time()
                    if raw.startswith(ALERT_PREFIX):
                        m = json.loads(raw)
                        self.alerts.append([index, m["event_id"], m["event"], m["time_s"],
                                            arrival_s])
                    else:
                        self.snapshots += 1
            except ConnectionClosed:
                pass
            self.closed.append([index, ws.close_code, ws.close_reason])

    def report(self) -> dict:
        out = {"event": "report", "alerts": self.alerts, "snapshots": self.snapshots,
               "closed": self.closed}
        self.alerts, self.snapshots = [], 0
        return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="ws://host:port of the server")
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    token = os.environ[TOKEN_ENV]
    clients, ready = Clients(), asyncio.Queue()
    tasks = [asyncio.create_task(clients.follow(i, args.url, token, ready))
             for i in range(args.clients)]
    for _ in range(args.clients):
        hello = await asyncio.wait_for(ready.get(), 30.0)
        if hello.get("type") != "hello":
            raise SystemExit(f"dashboard refused: {hello}")
    print(json.dumps({"event": "ready"}), flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip() == "report":
            print(json.dumps(clients.report()), flush=True)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
