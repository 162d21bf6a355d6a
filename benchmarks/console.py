"""Console benchmark: what updating the live wall costs the browser.

Usage::

    python benchmarks/console.py [--quick] [--tiles N] [--rounds R]
    python benchmarks/console.py --screenshots docs/ [--seats 300] [--live 60]

**tiles** (default): the wall's tile grid (``src/voiceline/console/static/tiles.js``) in
headless Chromium with the console's stylesheet, fed one floor snapshot per animation
frame: about 70 % of N seats in a call, calls starting and ending, half the agents
speaking, speaking agents' deviations drifting (the snapshot the server sends once a
second). Two layouts: a laptop (1600 × 900, the grid scrolls, tiles out of view are
skipped) and a 4K wall display (3840 × 2160, "fit to screen": all 1,000 tiles visible, each
redrawn when it changes). For each:
milliseconds in ``TileGrid.update`` (the JavaScript, measured with ``performance.now``),
in update + style + layout (forced at once), the main thread's busy time per round from a
Chromium trace (style, layout, paint and the rest of the frame), and long tasks (> 50 ms).

**--screenshots DIR**: the real server (``voiceline serve`` in a thread) with N
configured seats in four teams and ``--live`` of them simulated by ``voiceline
simulate``'s engine; waits for alerts, then saves ``console-wall.png``,
``console-wall-fit.png`` and ``console-seat-detail.png`` to DIR and reports the wall's
frame cost on that live floor. Needs the test helpers (``tests/test_console_support.py``).

Chromium is Debian's (``/usr/lib/chromium/chromium``); the numbers depend on the machine
and on software rasterisation (no GPU). Prints a table and, as its last line, one JSON
object with the key figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from test_console_support import (  # noqa: E402
    MEASURE_TILES_JS,
    launch,
    static_server,
    summary_ms,
)

LAYOUTS = {"laptop": ({"width": 1600, "height": 900}, False),
           "wall": ({"width": 3840, "height": 2160}, True)}
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline"]
FRAME_PHASES = ("UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "Commit")


def main_thread_ms(trace_path: Path, rounds: int) -> dict:
    """Busy time of the renderer's main thread per round, and its frame phases."""
    events = json.loads(trace_path.read_text())["traceEvents"]
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    totals: collections.Counter = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) in main:
            totals[e["name"]] += e["dur"] / 1000.0
    out = {"busy": round(totals["RunTask"] / rounds, 2)}
    for phase in FRAME_PHASES:
        out[phase] = round(totals[phase] / rounds, 2)
    return out


def measure_tiles(browser, base_url: str, n: int, rounds: int) -> dict:
    results = {}
    for name, (viewport, fit) in LAYOUTS.items():
        context = browser.new_context(viewport=viewport, base_url=base_url)
        page = context.new_page()
        page.goto("/login.html")
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.json"
            browser.start_tracing(page=page, path=str(trace), categories=TRACE_CATEGORIES)
            data = page.evaluate(MEASURE_TILES_JS, {"n": n, "rounds": rounds, "fit": fit})
            browser.stop_tracing()
            busy = main_thread_ms(trace, rounds + 1)
        context.close()
        changed = sorted(data["changed"])
        results[name] = {
            "viewport": f"{viewport['width']}x{viewport['height']}", "fit": fit,
            "in_call": data["inCall"], "changed_median": changed[len(changed) // 2],
            "update_ms": summary_ms(data["update"]),
            "update_style_layout_ms": summary_ms(data["withLayout"]),
            "main_thread_ms_per_round": busy,
            "long_tasks": len(data["longTasks"]),
            "longest_task_ms": round(max(data["longTasks"], default=0.0), 1),
        }
    return results


def print_tiles(n: int, rounds: int, results: dict) -> None:
    print(f"{n} tiles, {rounds} rounds (one snapshot per frame)")
    print(f"{'layout':8s} {'in call':>7s} {'changed':>7s} {'update ms':>14s} "
          f"{'+style+layout':>14s} {'main thread':>12s} {'long tasks':>10s}")
    for name, r in results.items():
        print(f"{name:8s} {r['in_call']:7d} {r['changed_median']:7d} "
              f"{r['update_ms']['median']:6.2f} ({r['update_ms']['p95']:5.1f}) "
              f"{r['update_style_layout_ms']['median']:6.1f} "
              f"({r['update_style_layout_ms']['p95']:5.1f}) "
              f"{r['main_thread_ms_per_round']['busy']:10.1f}   "
              f"{r['long_tasks']:4d} (max {r['longest_task_ms']:.0f} ms)")
    print("update/+style+layout: median (p95) ms; main thread: busy ms per round from a "
          "Chromium trace (tracing adds some)")


def screenshots(browser, out_dir: Path, n_seats: int, n_live: int) -> dict:
    """A live floor behind the real server; the wall and a seat's detail as PNGs."""
    from test_console_support import (
        PASSWORD,
        SimulationThread,
        have_cjk_font,
        make_floor,
        prepare_data,
    )
    from voiceline.server import ServerConfig
    from voiceline.server.testing import ServerThread

    if not have_cjk_font():
        print("warning: no Chinese font (apt-get install fonts-wqy-microhei): the screenshots "
              "will show boxes for Chinese text", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        step = max(1, n_seats // n_live)  # the simulated seats spread over the floor
        spread = [i * step for i in range(n_live)]
        floor = make_floor(n_live, seed=11, seat_ids=[f"S{i + 1:03d}" for i in spread],
                           agent_ids=[f"A{1001 + i}" for i in spread],
                           call_s=(60.0, 240.0), idle_s=(2.0, 40.0),
                           agitation_every_s=90.0, low_energy_every_s=240.0, episode_s=20.0,
                           caller_agitation_every_s=120.0)
        token = prepare_data(data_dir, floor, n_seats)
        server = ServerThread(ServerConfig(data_dir=data_dir, audiosocket_port=None)).start()
        simulation = SimulationThread(server.url, token, floor).start()
        try:
            context = browser.new_context(viewport={"width": 1920, "height": 1080},
                                          base_url=server.url)
            page = context.new_page()
            page.goto("/login.html")
            page.fill("#name", "sup")
            page.fill("#password", PASSWORD)
            page.click("#submit")
            page.wait_for_selector("body[data-status=live]", timeout=30_000)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and page.locator(".alert").count() < 3:
                page.wait_for_timeout(2000)
            page.wait_for_timeout(3000)
            # An acknowledged alert and a resolved one, as a shift would leave them.
            buttons = page.locator(".alert button.ack")
            if buttons.count() > 1:
                buttons.nth(buttons.count() - 1).click()
            page.wait_for_timeout(1000)
            frames = page.evaluate("window.__voiceline.state.frameMs.slice()")
            page.screenshot(path=str(out_dir / "console-wall.png"))
            page.check("#fit")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out_dir / "console-wall-fit.png"))
            page.uncheck("#fit")
            seat = page.evaluate("""() => (document.querySelector('.tile[data-state=alert]')
                || document.querySelector('.tile[data-state=speaking]')).dataset.seat""")
            page.locator(f".tile[data-seat={seat}]").click()
            page.wait_for_timeout(20_000)  # let the detail gather twenty seconds more
            page.screenshot(path=str(out_dir / "console-seat-detail.png"))
            context.close()
        finally:
            simulation.stop()
            server.stop()
    return {"seats": n_seats, "live": n_live, "wall_frame_ms": summary_ms(frames),
            "frames": len(frames)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 rounds instead of 60")
    parser.add_argument("--tiles", type=int, default=1000, help="seats on the wall")
    parser.add_argument("--rounds", type=int, default=None, help="snapshots to apply")
    parser.add_argument("--screenshots", type=Path, default=None, metavar="DIR",
                        help="run a live floor and save the README's screenshots to DIR")
    parser.add_argument("--seats", type=int, default=300, help="configured seats (screenshots)")
    parser.add_argument("--live", type=int, default=60, help="simulated seats (screenshots)")
    args = parser.parse_args()
    rounds = args.rounds or (20 if args.quick else 60)

    from playwright.sync_api import sync_playwright

    report: dict = {"mode": "quick" if args.quick else "full", "tiles": args.tiles,
                    "rounds": rounds}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            with static_server() as base_url:
                results = measure_tiles(browser, base_url, args.tiles, rounds)
            print_tiles(args.tiles, rounds, results)
            for name, r in results.items():
                report[f"{name}_update_ms_median"] = r["update_ms"]["median"]
                report[f"{name}_update_style_layout_ms_median"] = (
                    r["update_style_layout_ms"]["median"])
                report[f"{name}_main_thread_ms_per_round"] = r["main_thread_ms_per_round"]["busy"]
                report[f"{name}_long_tasks"] = r["long_tasks"]
                report[f"{name}_changed_median"] = r["changed_median"]
            if args.screenshots is not None:
                live = screenshots(browser, args.screenshots, args.seats, args.live)
                print(f"live floor: {live['seats']} seats, {live['live']} simulated; wall frame "
                      f"{live['wall_frame_ms']['median']} ms median "
                      f"({live['wall_frame_ms']['p95']} p95) over {live['frames']} frames; "
                      f"screenshots in {args.screenshots}")
                report["live_wall_frame_ms_median"] = live["wall_frame_ms"]["median"]
                report["live_wall_frame_ms_p95"] = live["wall_frame_ms"]["p95"]
        finally:
            browser.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
