"""Print the twin's Palencia Fig. 1 as the independent reader sees it (a developer's tool).

    python docs/read_fig1.py > fig1.md

Every (nucleation, growth) point of Fig. 1 at 14 s is simulated with the default detector noise
(seeds 0–2) and read by ``tests/spectrum_reader.py``, which shares no code with the twin or the
plugins; each cell is the CdSe-437 band height above its local baseline (AU), averaged over the
seeds that resolve it, with how many of them do ("–" where none does). Then the other facts'
readings: families, NC exciton and the twin's truth. docs/sim.md ("Fitted and predicted") shows
this output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autolab.sim import Conditions, measure, simulate
from autolab.sim.facts import FIG1_GROWTH_BELOW_C, FIG1_NUCLEATION_C
from tests.spectrum_reader import band_at, msc_families, nc_exciton_nm

SEEDS = (0, 1, 2)
OTHER_POINTS = ((240, 240, 14.0), (250, 250, 14.0), (260, 260, 14.0), (260, 260, 4.5), (280, 280, 4.5),
                (280, 280, 14.0), (350, 350, 4.5), (350, 350, 7.6))


def read(conditions: Conditions):
    """The noise-free result and, per seed, (437 height or 0, families, NC exciton or None)."""
    clean = simulate(conditions)
    readings = []
    for seed in SEEDS:
        noisy = measure(clean, np.random.default_rng(seed))
        band = band_at(noisy.wavelength_nm, noisy.absorbance, 437.0)
        readings.append((band.height_au if band else 0.0, msc_families(noisy.wavelength_nm, noisy.absorbance),
                         nc_exciton_nm(noisy.wavelength_nm, noisy.absorbance)))
    return clean, readings


def main() -> None:
    print("| nucleation °C | " + " | ".join(f"−{below}" for below in FIG1_GROWTH_BELOW_C) + " |")
    print("|---" * (len(FIG1_GROWTH_BELOW_C) + 1) + "|")
    for t in FIG1_NUCLEATION_C:
        cells = []
        for below in FIG1_GROWTH_BELOW_C:
            heights = [h for h, _, _ in read(Conditions(t, t - below, 14.0))[1]]
            seen = [h for h in heights if h > 0]
            cells.append(f"{np.mean(seen):.3f} ({len(seen)}/{len(SEEDS)})" if seen else "–")
        print(f"| {t} | " + " | ".join(cells) + " |")
    print()
    for point in OTHER_POINTS:
        clean, readings = read(Conditions(*point))
        truth = clean.truth
        print(f"{point}: families {[sorted(f) for _, f, _ in readings]}, exciton {[e and round(e, 1) for _, _, e in readings]}; "
              f"truth d {truth['nc_mean_diameter_nm'] or float('nan'):.2f} nm, spread {truth['nc_size_dispersion'] or float('nan'):.3f}, "
              f"yield {truth['yield_fraction']:.2f}")


if __name__ == "__main__":
    main()
