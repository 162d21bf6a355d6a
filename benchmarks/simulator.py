"""Measure the simulator: bank build time and streaming speed of a floor.

Usage: ``python benchmarks/simulator.py [--seats 300] [--seconds 60] [--workers 2]``.
Prints the wall time to build the floor (its banks) and, for several read sizes, how
many seat-seconds ``Floor.read`` produces per CPU-second of this process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from capture.simulator import Floor, clear_banks
from capture.telephone import LINE_FS_HZ


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/simulator.py", description=__doc__)
    parser.add_argument("--seats", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0, help="simulated time per size")
    parser.add_argument("--workers", type=int, default=2, help="processes building banks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    clear_banks()
    wall, cpu = time.perf_counter(), _cpu_s()
    floor = Floor(args.seats, seed=args.seed, workers=args.workers)
    print(f"built {args.seats} seats in {time.perf_counter() - wall:.1f} s wall, "
          f"{_cpu_s() - cpu:.1f} s CPU (workers={args.workers} included)")

    for chunk_s in (0.02, 0.1, 1.0):
        n = round(chunk_s * LINE_FS_HZ)
        reads = max(1, round(args.seconds / chunk_s))
        cpu = time.process_time()
        for _ in range(reads):
            floor.read(n)
        used_s = time.process_time() - cpu
        seat_s = args.seats * reads * n / LINE_FS_HZ
        print(f"reads of {chunk_s * 1000:5.0f} ms: {seat_s / used_s:7.0f} seat-seconds per CPU-s "
              f"({100 * args.seats / (seat_s / used_s):.1f} % of a core for {args.seats} "
              f"live seats)")
    in_call = sum(seat.in_call for seat in floor.seats)
    print(f"after {floor.position / LINE_FS_HZ:.0f} s: {in_call} of {len(floor)} seats in a call")
    print(f"banks held {clear_banks() / 1e6:.0f} MB")


def _cpu_s() -> float:
    """CPU time of this process and of its finished children (the bank workers), s."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
