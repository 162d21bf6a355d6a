"""``voiceline demo``: the whole live system on its embedded defaults, in one command.

What it does, in order:

1. a data directory (a fresh temporary one, removed at exit, unless ``--data DIR``);
2. a voice baseline for every simulated agent (``A1001``…), fitted exactly as
   ``voiceline calibrate`` fits one, from 100 s of that agent's ordinary speech
   (:func:`capture.simulator.calibration_audio`, ~45 % of it speech). Rendering and
   analysing 300 agents costs about two CPU-minutes, so the baselines are cached
   (``$XDG_CACHE_HOME/voiceline/demo-baselines/<version>-<analysis>-seed<seed>``,
   default ``~/.cache``; ``<analysis>`` is a digest of the ``emotion`` package's code,
   so a changed analyser or baseline schema never reuses stale baselines) and later
   demos start in seconds;
3. the demo users (``supervisor``, ``admin``, ``qa`` and agent ``A1001``, password
   :data:`DEMO_PASSWORD`) and an ingest token;
4. the server (``voiceline serve``) on 127.0.0.1 and ``--port``;
5. ``--seats`` simulated seats (``voiceline simulate``, audio-fork protocol) in a child
   process, so the simulator and the server each get a core;
6. seven simulated recordings with transcripts, pre-inspected by ``voiceline qa`` into
   the store (:mod:`voiceline.demo_qa`), so the QA review pages have a queue;
7. the dashboard URL and the login, printed; the browser opened unless
   ``--no-browser`` (and where there is no graphical session). Ctrl-C stops the
   simulator, then the server, then cleans up.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from voiceline import __version__

DEMO_PASSWORD = "voiceline-demo"
DEMO_USERS = (("supervisor", "supervisor", None), ("admin", "admin", None),
              ("qa", "qa", None), ("A1001", "agent", "A1001"))
#: Ordinary speech per simulated agent for their baseline, s (~40 % of it is speech, and
#: calibration asks for >= 30 s of speech).
CALIBRATION_AUDIO_S = 100.0
#: Mean time between a seat's agitation episodes in the demo: with 300 seats a few
#: alerts a minute, enough to watch without drowning the feed.
DEMO_AGITATION_EVERY_S = 1800.0
DEMO_LOW_ENERGY_EVERY_S = 3600.0
#: The demo's simulated seats send 100 ms of audio per message (telephony platforms send
#: 20 ms): five times fewer messages for the one machine that runs everything.
DEMO_FRAME_MS = 100


def agent_ids(n_seats: int) -> list[str]:
    """The simulator's agent ids for ``n_seats`` seats."""
    return [f"A{1001 + i}" for i in range(n_seats)]


def cache_dir(seed: int) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "voiceline" / "demo-baselines" / f"{__version__}-{analysis_digest()}-seed{seed}"


def analysis_digest() -> str:
    """A digest of the code that computes baselines (the ``emotion`` package's sources).

    Baselines fitted by other code may hold other features, or the same names measured
    differently; an installed package's version alone does not change with the code.
    """
    import emotion

    h = hashlib.sha256()
    root = Path(emotion.__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _usable(path: Path) -> bool:
    """Whether a cached baseline reads with this Voiceline (else it is fitted again)."""
    from emotion.baseline import Baseline, BaselineError

    try:
        Baseline.from_json(json.loads(path.read_text()), where=str(path))
    except (OSError, ValueError, BaselineError):
        return False
    return True


def _fit_one(job: tuple[str, int, str]) -> str:
    """Fit and save one simulated agent's baseline (runs in a worker process)."""
    import numpy as np

    from capture.audio import AudioClip
    from capture.simulator import AgentVoice, calibration_audio
    from emotion.baseline import fit_baseline, save_baseline
    from emotion.voice import analyse_clips
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR

    agent, seed, out = job
    voice = AgentVoice.draw(agent, seed=seed)
    pcm = calibration_audio(voice, CALIBRATION_AUDIO_S, seed=seed)
    clip = AudioClip(pcm[None].astype(np.float64) / 32768.0, 8000, f"simulated {agent}", "ULAW")
    (analysis,) = analyse_clips([clip], [clip.source])
    w = analysis.windows
    base = fit_baseline(
        w.features[0][w.valid[0]], FEATURE_NAMES, agent_id=agent, channel_type="8k",
        speech_s=analysis.speech_s, level_profile=analysis.level_profile,
        sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR), software_version=__version__,
    )
    save_baseline(base, out)
    return agent


def prepare_baselines(agents: list[str], seed: int, out: Path, *, workers: int = 2,
                      log=print) -> Path:
    """Baselines of the simulated ``agents`` in ``out`` (from the cache where possible)."""
    from emotion.baseline import baseline_path

    cache = cache_dir(seed)
    cache.mkdir(parents=True, exist_ok=True)
    missing = [a for a in agents if not _usable(baseline_path(cache, a, "8k"))]
    if missing:
        log(f"voiceline demo: calibrating {len(missing)} simulated agents (once; cached in "
            f"{cache}) …")
        t0 = time.perf_counter()
        jobs = [(a, seed, str(cache)) for a in missing]
        if workers > 1 and len(jobs) > 1:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for done, _ in enumerate(pool.imap_unordered(_fit_one, jobs), 1):
                    if done % 25 == 0 or done == len(jobs):
                        log(f"  {done}/{len(jobs)} agents ({time.perf_counter() - t0:.0f} s)")
        else:
            for job in jobs:
                _fit_one(job)
    out.mkdir(parents=True, exist_ok=True)
    for agent in agents:
        src = baseline_path(cache, agent, "8k")
        shutil.copy2(src, out / src.name)
    return out


#: The demo floor: seats in consecutive blocks of 50 per team, and invented names.
TEAMS = ("一组", "二组", "三组", "四组", "五组", "六组")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("芳", "娜", "伟", "洋", "静", "磊", "敏", "强", "杰", "婷", "丽", "浩", "超", "琳",
         "军", "颖", "霞", "涛", "燕", "鹏")


def demo_name(index: int) -> str:
    """A made-up agent name, distinct for the first 400 agents."""
    return SURNAMES[index % len(SURNAMES)] + GIVEN[(index // len(SURNAMES)) % len(GIVEN)]


def _setup_accounts(data_dir: Path, n_seats: int) -> str:
    """Demo seats, agents and users in the store; returns a fresh ingest token."""
    from voiceline.auth import Auth
    from voiceline.server.config import STORE_FILE
    from voiceline.store import Store

    store = Store(data_dir / STORE_FILE)
    try:
        auth = Auth(store)
        for i, agent in enumerate(agent_ids(n_seats)):
            team = TEAMS[min(i // 50, len(TEAMS) - 1)]
            store.upsert_seat(f"S{i + 1:03d}", team=team, label=f"座席 {i + 1}")
            store.upsert_agent(agent, demo_name(i), team)
        for name, role, agent in DEMO_USERS:
            if store.find_login(name) is None:
                auth.add_user(name, role, DEMO_PASSWORD, agent)
        return auth.issue_ingest_token("voiceline demo simulator")
    finally:
        store.close()


def _has_display() -> bool:
    """A graphical session to open a browser in (without one, Python's webbrowser would
    start a text browser such as lynx in this terminal)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def bound_port(server, asked: int) -> int:
    """The port a started uvicorn server listens on: ``asked``, or the one the system
    chose for ``--port 0`` (the simulated seats and the banner need the real one)."""
    for listening in getattr(server, "servers", None) or ():
        for sock in listening.sockets:
            return int(sock.getsockname()[1])
    return asked


def demo_config(data_dir: Path, port: int):
    """The demo server's settings: the simulated seats use the HTTP port (100 ms frames),
    so no other port is opened (a PBX's ingest or AudioSocket port may be in use on the
    machine, and the demo has no PBX)."""
    from voiceline.server.config import load_config

    return load_config(None, data_dir=str(data_dir), port=port, audiosocket_port=0,
                       ingest_port=0)


def _banner(url: str, seats: int, data_dir: Path, temporary: bool) -> str:
    return (f"\nVoiceline demo: {seats} simulated seats streaming live.\n"
            f"  dashboard: {url}/\n"
            f"  log in as: supervisor / {DEMO_PASSWORD}   (also admin, qa and agent A1001, "
            f"same password)\n"
            f"  QA review: {url}/qa.html (as qa: seven simulated recordings, pre-inspected)\n"
            f"  data:      {data_dir}{' (temporary, removed at exit)' if temporary else ''}\n"
            f"Ctrl-C stops everything.\n")


def _stop_children(children: list[subprocess.Popen], timeout_s: float = 15.0) -> None:
    """Ctrl-C to each child still running (the simulator ends its calls the protocol's
    way), then wait; one that takes longer than ``timeout_s`` is killed."""
    running = [child for child in children if child.poll() is None]
    for child in running:
        child.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    for child in running:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _demo_server(server_class, config, children):
    """The server, stopped after its seats: the first Ctrl-C (or SIGTERM, SIGHUP) stops
    ``children()`` (:func:`_stop_children`), and only then the server, so the seats'
    calls end the protocol's way and the store records them ended, where a server going
    first would cut 300 calls (the simulator counting each a lost connection and its
    last frame dropped). The children run in sessions of their own so that a terminal's
    Ctrl-C reaches them only through here. A second signal stops the server at once."""
    import threading

    class DemoServer(server_class):
        stopping = False

        def handle_exit(self, sig, frame) -> None:
            if self.stopping:
                super().handle_exit(sig, frame)
                return
            self.stopping = True
            print("voiceline demo: ending the seats' calls, then stopping the server "
                  "(Ctrl-C again to stop at once) …", file=sys.stderr, flush=True)

            def seats_then_server() -> None:
                _stop_children(children())
                super(DemoServer, self).handle_exit(sig, None)

            threading.Thread(target=seats_then_server, name="demo-stop", daemon=True).start()

    return DemoServer(config)


def run_demo(args: argparse.Namespace) -> int:
    import threading

    from voiceline.cli import UserError
    from voiceline.server.config import BASELINES_DIR, ConfigError
    from voiceline.server.run import (
        QuietServer,
        check_ports_free,
        hold_data_dir,
        uvicorn_config,
    )
    from voiceline.sources.cli import STOP_WITH_PARENT_ENV

    if args.seats < 1:
        raise UserError(f"--seats must be at least 1, got {args.seats}")
    temporary = args.data is None
    data_dir = Path(tempfile.mkdtemp(prefix="voiceline-demo-")) if temporary else Path(args.data)
    try:  # said before minutes of calibration, not after
        check_ports_free(demo_config(data_dir, args.port))
        hold_data_dir(data_dir)
    except (ConfigError, ValueError) as exc:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise UserError(str(exc)) from None
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    sim: subprocess.Popen | None = None
    recorded: list[subprocess.Popen] = []

    def children() -> list[subprocess.Popen]:
        return [p for p in (sim, *recorded) if p is not None]

    try:
        prepare_baselines(agent_ids(args.seats), args.seed, data_dir / BASELINES_DIR,
                          workers=args.workers, log=log)
        token = _setup_accounts(data_dir, args.seats)
        config = demo_config(data_dir, args.port)
        server = _demo_server(QuietServer, uvicorn_config(config, log_level="warning"),
                              children)
        url = f"http://{config.host}:{config.port}"

        def start_seats() -> None:
            nonlocal sim, url
            deadline = time.monotonic() + 60
            while not server.started and not (server.stopping or server.should_exit):
                if time.monotonic() > deadline:
                    log("voiceline demo: the server did not start within 60 s")
                    server.should_exit = True
                    return
                time.sleep(0.1)
            if server.stopping or server.should_exit:
                return
            url = f"http://{config.host}:{bound_port(server, config.port)}"
            sim = subprocess.Popen(
                [sys.executable, "-m", "voiceline", "simulate", "--server", url,
                 "--seats", str(args.seats), "--seed", str(args.seed),
                 "--agitation-every", str(args.agitation_every),
                 "--low-energy-every", str(DEMO_LOW_ENERGY_EVERY_S), "--status-every", "30",
                 "--frame-ms", str(DEMO_FRAME_MS)],
                env={**os.environ, "VOICELINE_INGEST_TOKEN": token,
                     STOP_WITH_PARENT_ENV: str(os.getpid())},
                start_new_session=True)
            recorded.append(subprocess.Popen(  # the QA pages' queue: a few recordings
                [sys.executable, "-m", "voiceline.demo_qa", "--data", str(data_dir),
                 "--agents", ",".join(agent_ids(min(args.seats, 3))), "--seed",
                 str(args.seed)], start_new_session=True))
            print(_banner(url, args.seats, data_dir, temporary), flush=True)
            if not args.no_browser and _has_display():
                import webbrowser

                with contextlib.suppress(Exception):
                    webbrowser.open(f"{url}/")

        threading.Thread(target=start_seats, name="demo-start", daemon=True).start()
        server.run()  # until Ctrl-C (uvicorn shuts down gracefully)
        return 0
    except KeyboardInterrupt:  # Ctrl-C before the server runs (while calibrating)
        return 0
    finally:
        _stop_children(children())
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
        log("voiceline demo: stopped")


def add_parser(sub) -> None:
    from voiceline.cli import seconds

    p = sub.add_parser(
        "demo", help="run the live demo: server, simulated seats, dashboard URL printed",
        description=__doc__.split("\n")[0])
    p.add_argument("--seats", type=int, default=300, help="simulated seats (default 300)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000; 0 = any)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--data", default=None,
                   help="keep the store and baselines here (default: a temporary directory)")
    p.add_argument("--seed", type=int, default=0, help="simulated voices and schedules")
    p.add_argument("--agitation-every", type=seconds, default=DEMO_AGITATION_EVERY_S,
                   help="mean seconds between a seat's agitation episodes "
                        f"(default {DEMO_AGITATION_EVERY_S:.0f})")
    p.add_argument("--workers", type=int, default=2,
                   help="processes calibrating the simulated agents (first run only)")
