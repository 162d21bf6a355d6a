"""Process plumbing of ``capacity.py``'s end-to-end section: child processes that speak
JSON lines, and CPU time by process, by thread of this process, and of the machine.

CPU times come from ``/proc`` (Linux): ``utime + stime`` of a process or thread, and the
busy time of all cores from ``/proc/stat``.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Child:
    """A helper process speaking JSON lines; its stdout is read by a thread."""

    def __init__(self, script: str, args: list[str], env: dict, log: Path) -> None:
        self.log = log
        self._err = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / script), *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._err, text=True, env={**os.environ, **env})
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, name=f"capacity-{log.stem}", daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, message: dict | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def expect(self, event: str, timeout_s: float) -> dict:
        """The next message, which must be ``event``."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError(f"{self.log.stem}: no {event!r} within {timeout_s:.0f} s") from None
        if line is None:
            tail = self.log.read_text()[-2000:]
            raise RuntimeError(f"{self.log.stem} ended before {event!r}:\n{tail}")
        message = json.loads(line)
        if message.get("event") != event:
            raise RuntimeError(f"{self.log.stem}: expected {event!r}, got {message}")
        return message

    def cpu_s(self) -> float:
        return process_cpu_s(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()


def process_cpu_s(pid: int) -> float:
    """CPU seconds process ``pid`` (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds all cores of the machine have been busy so far (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def _thread_role(name: str | None) -> str:
    if name == "voiceline-server":
        return "loop"
    if name == "voiceline-engine":
        return "engine"
    if name in ("voiceline-engine-send", "voiceline-engine-read"):
        return "engine_io"  # the server's side of the engine process
    if name and name.startswith("voiceline-store"):
        return "store"
    if name == "MainThread" or (name and name.startswith("capacity-")):
        return "bench"  # this benchmark's own threads
    return "other"  # the default executor, onnxruntime's and other native threads


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds of this process's threads so far, by role in the server."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = defaultdict(float)
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread has just ended
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[_thread_role(names.get(int(task.name)))] += (int(fields[11]) + int(fields[12])) \
            / CLK_TCK
    return dict(out)
