"""`make bench` part 3: serial capture through the simulated board's pty.

Streams 10 minutes of 100 Hz × 6-channel IMU data (60,000 samples, the issue #4 target) and prints
samples lost, bad lines, throughput and the CPU time of reader and simulator. By default simulated
time runs 20× faster than real time (the link then carries 2,000 samples/s, 20× a kit's load);
`--realtime` runs the full 10 minutes at 100 Hz.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from tinymlkit.capture import Board
from tinymlkit.simboard import SimulatedBoard, SimulationConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--realtime", action="store_true", help="10 real minutes at 100 Hz")
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args(argv)
    speed = 1.0 if args.realtime else 20.0
    n = int(args.minutes * 60 * 100)
    cpu0 = time.process_time()
    with SimulatedBoard(SimulationConfig(rate_hz=100, speed=speed)) as sim, Board(sim.port) as board:
        board.act("ROW")
        start = time.perf_counter()
        take = board.record(n_samples=n)
        wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = [
        ("samples streamed", f"{n:,} ({args.minutes:g} min at 100 Hz × 6 channels, speed {speed:g}×)"),
        ("samples lost", f"{take.lost_samples}"),
        ("bad lines", f"{take.bad_lines}"),
        ("wall time", f"{wall:.1f} s ({n / wall:,.0f} samples/s)"),
        ("reader CPU", f"{time.process_time() - cpu0:.1f} s"),
        ("simulator CPU", f"{children.ru_utime + children.ru_stime:.1f} s"),
    ]
    print("Capture benchmark (simulated board over a pty, pyserial reader)")
    for k, v in rows:
        print(f"  {k:<18} {v}")
    return 0 if take.lost_samples == 0 and take.bad_lines == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
