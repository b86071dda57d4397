"""Wall time of whole ``autolab`` commands, each a new process as a user starts it.

Prints a table and writes ``benchmarks/results/commands.json``.

    python benchmarks/commands.py [--repeats 4]

Commands, in a fresh temporary folder with its own per-user data folder:

- ``runs --catalog nowhere``: a reading command refused for a catalog that does not exist (one
  line; nothing of tiled is imported);
- ``measure``: one point on the twin into a new embedded catalog, and its analysis (two runs);
- ``runs``: the stored runs of that catalog listed;
- ``queue start`` and ``queue stop``: Redis and RE Manager with the worker's environment opened,
  then stopped (the worker closed first, its writer empty).

The first repeat warms the operating system's file cache and is not counted; the table gives the
median of the rest with the minimum and maximum.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AUTOLAB = [sys.executable, "-m", "autolab"]
POINT = ["--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14"]


def timed(args: list[str], cwd: Path, env: dict, expect: int = 0) -> float:
    """Seconds ``autolab ARGS`` takes from start to exit; its exit status must be ``expect``."""
    start = time.perf_counter()
    done = subprocess.run([*AUTOLAB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        msg = f"autolab {' '.join(args)} exited with {done.returncode}: {done.stderr.strip()[-500:]}"
        raise RuntimeError(msg)
    return elapsed


def one_round(folder: Path) -> dict[str, float]:
    """Each command once, in ``folder``."""
    env = {**os.environ, "XDG_DATA_HOME": str(folder / "data")}
    return {
        "runs --catalog nowhere (refused)": timed(["runs", "--catalog", "nowhere"], folder, env, expect=2),
        "measure (new catalog)": timed(["measure", *POINT, "--catalog", "catalog"], folder, env),
        "runs": timed(["runs", "--catalog", "catalog"], folder, env),
        "queue start": timed(["queue", "start", "--catalog", "catalog", "--dir", "queue"], folder, env),
        "queue stop": timed(["queue", "stop", "--dir", "queue"], folder, env),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=4, help="Rounds of every command; the first is not counted (≥ 2).")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "commands.json"))
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error(f"--repeats={args.repeats}: at least 2 (the first round is not counted)")
    rounds = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="autolab-commands-") as folder:
            rounds.append(one_round(Path(folder)))
    counted = rounds[1:]
    rows = [
        {"command": name, "median_s": statistics.median(r[name] for r in counted), "min_s": min(r[name] for r in counted),
         "max_s": max(r[name] for r in counted)}
        for name in rounds[0]
    ]
    print(f"{'autolab command':36s} {'median s':>9s} {'min s':>7s} {'max s':>7s}   ({len(counted)} counted rounds)")
    for row in rows:
        print(f"{row['command']:36s} {row['median_s']:9.2f} {row['min_s']:7.2f} {row['max_s']:7.2f}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"counted_rounds": len(counted), "rows": rows}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
