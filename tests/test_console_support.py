"""Helpers of the console's browser tests: a simulated floor behind the real server.

No tests here; ``test_console.py``, ``test_console_render.py`` and
``benchmarks/console.py`` import it. The floor is set up as an operator would: users
with ``voiceline user add``, an ingest token with ``voiceline user token``, seats and
agents (names, teams) in the store, and each simulated agent's baseline fitted on fresh
calm speech of their voice (:func:`capture.simulator.calibration_audio`, as ``voiceline
calibrate`` would fit it from recordings). Then the real server runs in a
thread (:class:`voiceline.server.testing.ServerThread`) and ``voiceline simulate``'s
engine (:class:`voiceline.sources.Simulation`) streams the seats to it in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "wall-display-2024"
USERS = (("sup", "supervisor", None), ("sup2", "supervisor", None), ("qa", "qa", None),
         ("wang", "agent", "A1001"))
TEAMS = ("一组", "二组", "三组", "四组")
NAMES = ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴婷", "徐丽",
         "孙浩", "马超", "朱琳", "胡军", "郭颖")


def chromium_or_skip() -> Path:
    """Debian's Chromium (``apt-get install chromium``), or skip with the reason."""
    pytest.importorskip("playwright.sync_api", reason="browser tests need the 'playwright' "
                        "package (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium "
                    "fonts-wqy-microhei); Playwright cannot download its own browsers here")
    return CHROMIUM


def cli(*argv: str, stdin: str = "") -> str:
    """Run ``voiceline ARGV`` in this process; returns what it printed."""
    from voiceline.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), _stdin(stdin):
        status = main(list(argv))
    assert status == 0, f"voiceline {' '.join(argv)} exited with {status}"
    return out.getvalue()


@contextlib.contextmanager
def _stdin(text: str):
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def watched_page(context, *, console_errors: bool = False):
    """A new page of ``context`` whose uncaught errors, anything the server's
    Content-Security-Policy refused (and, if asked, every console error) collect in
    ``page.errors``, so a test can assert there were none."""
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))

    def console(message) -> None:
        if message.type == "error" and (console_errors
                                        or "Content Security Policy" in message.text):
            page.errors.append(message.text)

    page.on("console", console)
    return page


def sign_in(page, name: str, password: str | None = None) -> None:
    """Sign in through the login page as a user would (by default with the password
    ``test_server_support.add_users`` gives its users)."""
    from test_server_support import PASSWORD

    page.goto("/")
    page.wait_for_url(re.compile(r"/login\.html"))
    page.fill("#name", name)
    page.fill("#password", PASSWORD if password is None else password)
    page.click("#submit")


def seat_ids(n: int) -> list[str]:
    return [f"S{i + 1:03d}" for i in range(n)]


def agent_ids(n: int) -> list[str]:
    return [f"A{1001 + i}" for i in range(n)]


def team_of(index: int, n_seats: int) -> str:
    """Seats in consecutive blocks, one block per team (as rows on a floor)."""
    return TEAMS[index * len(TEAMS) // n_seats]


def make_floor(n_live: int, *, seed: int = 7, **options):
    """The simulated floor: short calls, each with agitated episodes from ~12 s on.

    Episodes are 10 s long and the next one follows about a second after (a Poisson
    process with a 1 s mean), so every call soon has one; the seed fixes all of it, and
    the simulation reports each episode's wall-clock span.
    """
    from capture.simulator import Floor

    settings = dict(seed=seed, n_timbres=2, n_caller_timbres=2, workers=1,
                    call_s=(45.0, 60.0), idle_s=(0.5, 2.0), agitation_every_s=1.0,
                    low_energy_every_s=None, caller_agitation_every_s=None, episode_s=10.0)
    settings.update(options)
    return Floor(n_live, **settings)


def fit_baselines(floor, out_dir: Path, seconds: float = 100.0) -> None:
    """Each simulated agent's baseline from fresh calm speech of their voice."""
    from capture.audio import AudioClip
    from capture.simulator import calibration_audio
    from emotion.baseline import fit_baseline, save_baseline
    from emotion.voice import analyse_clips
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR

    clips = [AudioClip(calibration_audio(seat.voice, seconds, seed=1)[np.newaxis, :] / 32768.0,
                       8000, seat.agent_id, "PCM_16") for seat in floor.seats]
    for seat, fa in zip(floor.seats, analyse_clips(clips), strict=True):
        windows = fa.windows.features[0][fa.windows.valid[0]]
        save_baseline(fit_baseline(windows, FEATURE_NAMES, agent_id=seat.agent_id,
                                   channel_type="8k", speech_s=fa.speech_s,
                                   level_profile=fa.level_profile,
                                   sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR)), out_dir)


def prepare_data(data_dir: Path, floor, n_configured: int) -> str:
    """Users, seats, agents and baselines in ``data_dir``; returns an ingest token."""
    from voiceline.store import Store

    data = str(data_dir)
    for name, role, agent in USERS:
        extra = ("--agent", agent) if agent else ()
        cli("user", "add", name, "--role", role, *extra, "--password-stdin", "--data", data,
            stdin=PASSWORD + "\n")
    token = cli("user", "token", "--ingest", "console-tests", "--data", data).strip()
    with Store(data_dir / "voiceline.db") as store:
        for i, (seat, agent) in enumerate(zip(seat_ids(n_configured), agent_ids(n_configured),
                                              strict=True)):
            store.upsert_seat(seat, team=team_of(i, n_configured))
            store.upsert_agent(agent, NAMES[i % len(NAMES)] + ("" if i < len(NAMES)
                                                               else str(i // len(NAMES))),
                               team=team_of(i, n_configured))
    fit_baselines(floor, data_dir / "baselines")
    return token


class SimulationThread:
    """A :class:`voiceline.sources.Simulation` running in a thread with its own loop."""

    def __init__(self, server_url: str, token: str, floor, run_id: str = "t") -> None:
        from voiceline.sources import Backoff, Simulation

        self.simulation = Simulation(server_url, token=token, floor=floor, run_id=run_id,
                                     backoff=lambda: Backoff(0.25, 1.0))
        self.result = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="console-simulation",
                                        daemon=True)

    def _run(self) -> None:
        try:
            self.result = asyncio.run(self.simulation.run())
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self) -> SimulationThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.simulation.stop()
        self._thread.join(15.0)
        if self.error is not None:
            raise self.error

    def agitated_episodes(self) -> list[tuple[str, list[str], float, float]]:
        """(seat, wire call ids, start_s, end_s) of every agitated agent episode so far."""
        out = []
        for call in self.simulation.calls:
            for episode in call.episodes:
                if episode.party == "agent" and episode.style == "agitated":
                    out.append((call.seat, list(call.wire_call_ids), episode.start_s,
                                episode.end_s))
        return out


@dataclass
class Floor:
    """The running floor of a test module."""

    url: str
    data_dir: Path
    server: object
    simulation: SimulationThread
    n_live: int
    n_configured: int


def launch(playwright):
    """Headless Debian Chromium."""
    return playwright.chromium.launch(executable_path=str(chromium_or_skip()), headless=True,
                                      args=CHROMIUM_ARGS)


def have_cjk_font() -> bool:
    """Whether fontconfig knows a Chinese font (screenshots show boxes without one)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    import subprocess

    result = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(result.stdout.strip())


@contextlib.contextmanager
def static_server():
    """The console's static files over HTTP on a free port (no API behind them)."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from voiceline.console import STATIC_DIR

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(STATIC_DIR))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()


#: Runs in a console page: a fresh TileGrid of ``n`` seats in the wall's CSS, fed
#: ``rounds`` snapshots of a floor where about 70 % of seats are in a call, calls start
#: (5 % of idle seats a second) and end (2 %), agents take turns (half speak) and a
#: speaking agent's deviation drifts. One snapshot per animation frame. Returns per-round
#: milliseconds in ``grid.update`` and in update + style + layout (forced at once, as the
#: frame would do it), tiles changed per round, and long tasks (> 50 ms) seen meanwhile.
#: ``fit``: size the tiles so that all show at once (a wall display), else the grid scrolls.
MEASURE_TILES_JS = """async ({n, rounds, fit = false}) => {
  const { TileGrid } = await import('/tiles.js');
  const host = document.createElement('div');
  host.className = 'grid';
  host.style.cssText = 'position:fixed;inset:0;z-index:10;background:#0f1419';
  document.body.append(host);
  const grid = new TileGrid(host, { agentName: (id) => '坐席' + id });
  const ids = Array.from({ length: n }, (_, i) => 'S' + String(i + 1).padStart(4, '0'));
  grid.setSeats(ids.map((seat_id, i) => ({ seat_id, team: 'T' + (i % 10) })));
  grid.setFitMode(fit);
  let seed = 12345;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const live = new Map();
  const call = (id) => ({ seat_id: id, call_id: id + '-' + seed, agent_id: 'A' + id.slice(1),
    agent_speaking: false, deviation: null, open_alerts: [] });
  for (const id of ids) if (random() < 0.7) live.set(id, call(id));
  function step() {
    for (const id of ids) {
      const s = live.get(id);
      if (!s) { if (random() < 0.05) live.set(id, call(id)); continue; }
      if (random() < 0.02) { live.delete(id); continue; }
      s.agent_speaking = random() < 0.5;
      if (s.agent_speaking) s.deviation = Math.abs((s.deviation ?? 1) + (random() - 0.5) * 0.6);
      if (random() < 0.002) s.open_alerts = ['agitation'];
      else if (random() < 0.05) s.open_alerts = [];
    }
    return [...live.values()].map((s) => ({ ...s }));
  }
  grid.update(step());
  void host.offsetHeight;
  const longTasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push(entry.duration);
  });
  observer.observe({ type: 'longtask' });
  const update = [], withLayout = [], changed = [];
  for (let k = 0; k < rounds; k += 1) {
    const seats = step();
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const t0 = performance.now();
    changed.push(grid.update(seats));
    const t1 = performance.now();
    void host.offsetHeight;
    const t2 = performance.now();
    update.push(t1 - t0);
    withLayout.push(t2 - t0);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  observer.disconnect();
  host.remove();
  return { update, withLayout, changed, longTasks, inCall: live.size, tiles: grid.tiles.size };
}"""


def summary_ms(values: list[float]) -> dict:
    """Median, 95th percentile and maximum, rounded to 0.01."""
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"median": round(pick(0.5), 2), "p95": round(pick(0.95), 2),
            "max": round(ordered[-1], 2)}


def accessible_name(page, selector: str) -> tuple[str, str]:
    """The (name, description) Chromium's accessibility tree gives the first element
    matching ``selector``: what a screen reader says of it."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        ax = cdp.send("Accessibility.getPartialAXTree", {"nodeId": node,
                                                         "fetchRelatives": False})["nodes"][0]
    finally:
        cdp.detach()
    return ax.get("name", {}).get("value", ""), ax.get("description", {}).get("value", "")
