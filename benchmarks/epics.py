"""Software time per point over Channel Access against the in-process twin, and the cost of a 2D frame.

Prints a table and writes ``benchmarks/results/epics.json``.

    python benchmarks/epics.py [--points 10] [--time-scale 0.001] [--frames 20]

Rows:

- ``in-process twin``: RunEngine + ``measure_point`` on the twin (virtual clock, no waiting);
- ``over CA``: the same points through the twin's IOC (``autolab.ioc``, a caproto process on
  127.0.0.1) with the EPICS devices of its device file. The IOC runs the twin at
  ``--time-scale`` real seconds per simulated second; its ``simulated wait`` row is the point's
  simulated time (heater settle, flush) times that scale, which a point over CA must wait and the
  virtual clock skips;
- ``software beyond twin``: over CA − simulated wait − in-process twin: what Channel Access, the
  IOC's polling and the EPICS devices add (target ≤ 150 ms, issue 20);
- ``frame + integration``: one 2D SAXS frame at the default detector size
  (:func:`autolab.sim.detector_raw.acquire_frame`) and its pyFAI integration
  (:func:`autolab.analysis.reduction.integrate_frame`), each and together (target ≤ 50 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from bluesky import RunEngine

from autolab.analysis.reduction import integrate_frame
from autolab.devices import make_twin_reactor
from autolab.devices.devicefile import load_reactor
from autolab.ioc import control
from autolab.plans import measure_point
from autolab.sim import detector_raw

CONDITIONS = [(260 + 10 * (i % 5), 260, 4.5 + i % 3) for i in range(1000)]


def time_points(reactor, n: int, clock=None, before=None) -> tuple[list[float], list[float]]:
    """Wall seconds of each of ``n`` points, and each point's simulated seconds (from ``clock``, if given).

    ``before()`` runs untimed before each point.
    """
    RE = RunEngine({}, call_returns_result=False)
    if before:
        before()
    RE(measure_point(reactor, 280, 280, 14.0))  # warm the reduction's integrator and the devices
    times, simulated = [], []
    for t_nuc, t_growth, residence in CONDITIONS[:n]:
        if before:
            before()
        sim_start = clock() if clock else 0.0
        start = time.perf_counter()
        RE(measure_point(reactor, t_nuc, t_growth, residence))
        times.append(time.perf_counter() - start)
        simulated.append((clock() - sim_start) if clock else 0.0)
    return times, simulated


def refill(state) -> None:
    """Full syringes in both pumps (at full speed the twin's 50 mL syringes last seconds)."""
    from caproto.sync.client import write

    with control.ca_environment(state):
        for pump in ("CdPump", "SePump"):
            write(f"{state.prefix}{pump}:Sim:Refill", 1, notify=True, timeout=5, repeater=False)
    time.sleep(0.1)  # the IOC posts the remaining volumes at its next poll


def time_frames(n: int) -> dict[str, list[float]]:
    """Seconds per default-size frame: generation, pyFAI integration, and both."""
    geometry, beam = detector_raw.DEFAULT_GEOMETRY, detector_raw.DEFAULT_BEAM
    poni, mask = geometry.poni_text(), geometry.beamstop_mask()
    q_model = np.geomspace(0.05, 7.0, 500)
    x = 2.0 * q_model
    spheres = 0.5 * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
    q_bins = np.geomspace(0.1, 5.0, 250)
    rng = np.random.default_rng(0)
    out = {"frame": [], "integration": [], "frame + integration": []}
    for i in range(n + 1):  # the first integration builds pyFAI's sparse matrix: left out
        start = time.perf_counter()
        frame = detector_raw.acquire_frame(q_model, spheres, rng, content="sample")
        made = time.perf_counter()
        integrate_frame(frame.counts, poni, q_bins, monitor_photons_s=frame.monitor_photons_s,
                        exposure_time_s=frame.exposure_time_s, transmission=frame.transmission,
                        thickness_cm=beam.thickness_cm, calibration_factor=1 / beam.efficiency, mask=mask)
        done = time.perf_counter()
        if i:
            out["frame"].append(made - start)
            out["integration"].append(done - made)
            out["frame + integration"].append(done - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--time-scale", type=float, default=1e-3, help="the IOC's real seconds per simulated second")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "epics.json"))
    args = parser.parse_args()
    n = args.points

    twin = make_twin_reactor(seed=0)
    twin_times, twin_sim = time_points(twin, n, clock=twin.clock.now)

    with tempfile.TemporaryDirectory() as tmp:
        state = control.start(tmp, prefix="BENCH:", time_scale=args.time_scale)
        try:
            reactor = load_reactor(state.devices_file)
            ca_times, _ = time_points(reactor, n, before=lambda: refill(state))
        finally:
            control.stop(tmp)

    # Over CA the point waits its simulated time, scaled; the virtual clock skips it.
    waits = [s * args.time_scale for s in twin_sim]
    beyond = [ca - wait - tw for ca, wait, tw in zip(ca_times, waits, twin_times, strict=True)]
    frames = time_frames(args.frames)
    rows = [
        ("in-process twin", twin_times, None),
        ("over CA", ca_times, None),
        ("simulated wait (sim s × time scale)", waits, None),
        ("software beyond twin", beyond, 0.150),
        *((name, times, 0.050 if name == "frame + integration" else None) for name, times in frames.items()),
    ]
    results = []
    print(f"{'row':38s} {'median ms':>10s} {'max ms':>8s} {'target ms':>10s}")
    for name, times, target in rows:
        median = statistics.median(times)
        results.append({"row": name, "median_s": median, "max_s": max(times), "target_s": target, "n": len(times)})
        mark = "" if target is None else f"{target * 1e3:.0f} {'ok' if median <= target else 'MISSED'}"
        print(f"{name:38s} {median * 1e3:10.1f} {max(times) * 1e3:8.1f} {mark:>10s}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"points": n, "time_scale": args.time_scale, "frames": args.frames,
                                             "results": results}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
