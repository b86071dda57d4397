"""The model-free UV-Vis reader (``tests/spectrum_reader.py``) on spectra it knows nothing about (issue 19, item 1).

The spectra come from ``tests/independent_spectra.py`` (Norris–Bawendi-like NC ladders, split
pseudo-Voigt cluster bands with Lorentzian tails, λ⁻⁴ and λ⁻¹ scattering, 0.5–2 nm grids,
0.001–0.005 AU noise); the reader shares no code with it, nor with autolab's twin or plugins, so
that it can serve as an independent judge of them. Five noise seeds per case.

Tolerances reached over seeds 0–59 while tuning (the tests run seeds 0–4) and those asserted:
- families: exact on every case, none on blanks (asserted exact);
- NC exciton maxima (isolated, beside clusters, weak, crowded): within 4.4 nm (asserted ±6 nm);
- NC shoulders: within 5.7 nm (asserted ±8 nm);
- isolated cluster bands: height within 21 % (asserted ±25 %), FWHM within 16 % (asserted ±20 %);
  overlapping ones read 0.66–0.96 × their height (asserted 0.6–1.1 ×).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from tests import spectrum_reader as reader
from tests.independent_spectra import CASES, FAMILIES_NM, SHOULDER_CASES, Case, cluster_band, nc_for_exciton, spectrum

SEEDS = range(5)
ALL_CASES = {**CASES, **SHOULDER_CASES}
NC_CASES = [name for name, case in CASES.items() if case.nc is not None]
EMPTY_CASES = [name for name, case in CASES.items() if case.nc is None]


@cache
def reading(name: str, seed: int):
    """The spectrum ``name`` at ``seed``, its truth, and the reader's families and exciton."""
    wavelength, absorbance, truth = spectrum(ALL_CASES[name], seed)
    families = reader.msc_families(wavelength, absorbance)
    exciton = reader.nc_exciton_nm(wavelength, absorbance)
    return wavelength, absorbance, truth, families, exciton


def test_the_reader_imports_nothing_of_autolab():
    """Only numpy, scipy and the standard library: it must not read the twin through the twin's model."""
    tree = ast.parse(Path(reader.__file__).read_text(encoding="utf-8"))
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    roots |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert roots, "no imports found: the check would be empty"
    assert roots <= {"numpy", "scipy"} | set(sys.stdlib_module_names), roots
    assert not roots & {"autolab", "sim", "plugins", "tests", "importlib", ""}, roots
    assert "__import__" not in {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def exciton_errors(name) -> list[float]:
    """The reader's exciton minus the truth, nm, for each seed of case ``name`` (each must be found)."""
    errors = []
    for seed in SEEDS:
        *_, truth, _, exciton = reading(name, seed)
        assert exciton is not None, seed
        errors.append(exciton - truth["exciton_nm"])
    return errors


@pytest.mark.parametrize("name", list(ALL_CASES))
def test_noise_estimated_from_the_data(name):
    """MAD of second differences against the generated σ: each seed within 0.8–1.3 ×, the mean of
    five within 0.9–1.2 ×. The spread is the MAD's own sampling error (±10 % at 400 points, ±25 %
    at 200; 0.73–1.49 × over seeds 0–59); the sharp bands of crowded_2.8nm on its 2 nm grid
    inflate it by ~18 % on average, which only makes the reader more cautious."""
    ratios = [reader.noise_au(*reading(name, seed)[:2]) / ALL_CASES[name].noise_au for seed in SEEDS]
    assert min(ratios) >= 0.8, ratios
    assert max(ratios) <= 1.3, ratios
    assert 0.9 <= np.mean(ratios) <= 1.2, ratios


@pytest.mark.parametrize("name", list(ALL_CASES))
def test_families_exact(name):
    """Cluster bands are ≥ 10× the noise: the families must be exactly those generated (none on blanks, none
    from an NC band that happens to lie near a family position, e.g. isolated_2.0nm's 457 nm band by CdSe-465)."""
    for seed in SEEDS:
        *_, truth, families, _ = reading(name, seed)
        assert families == truth["families"], seed


@pytest.mark.parametrize("name", NC_CASES)
def test_nc_exciton_maximum(name):
    """Isolated NCs, NCs beside CdSe-437, weak NCs beside strong clusters, crowded mixtures: the NC
    component's own first maximum within ±6 nm on every seed (4.4 nm reached over 60 seeds; the
    reader sees the sum, and the crowded cases' 465 nm band and bridged baseline pull it blue by
    1–4 nm), and no systematic bias beyond 3 nm over the five seeds."""
    errors = exciton_errors(name)
    assert np.max(np.abs(errors)) <= 6.0, errors
    assert abs(np.mean(errors)) <= 3.0, errors


@pytest.mark.parametrize("name", list(SHOULDER_CASES))
def test_nc_exciton_shoulder(name):
    """A shoulder has no maximum: it is read at its flattest point, the local maximum of dA/dλ,
    whose position on a broad, weakly curved band moves with the noise more than a maximum does
    (5.7 nm reached over 60 seeds): ±8 nm on every seed, mean bias within 3 nm."""
    errors = exciton_errors(name)
    assert np.max(np.abs(errors)) <= 8.0, errors
    assert abs(np.mean(errors)) <= 3.0, errors


@pytest.mark.parametrize("name", EMPTY_CASES)
def test_no_exciton_in_blanks_and_cluster_ladders(name):
    """Blanks (flat, Rayleigh, turbid) and pure cluster ladders: narrow bands only, so no NC exciton."""
    for seed in SEEDS:
        *_, exciton = reading(name, seed)
        assert exciton is None, (seed, exciton)


def _overlap(case: Case, family: str) -> float:
    """How much the other generated cluster bands vary across this band's ±1.5 FWHM, over its height."""
    nominal, fwhm = FAMILIES_NM[family], case.cluster_fwhm_nm
    x = np.linspace(nominal - 1.5 * fwhm, nominal + 1.5 * fwhm, 301)
    others = sum((cluster_band(x, FAMILIES_NM[g], h, fwhm) for g, h in case.clusters.items() if g != family), np.zeros_like(x))
    return float(np.ptp(others)) / case.clusters[family]


BANDS = [(name, family) for name, case in ALL_CASES.items() for family in case.clusters]
ISOLATED = [(name, family) for name, family in BANDS if _overlap(ALL_CASES[name], family) <= 0.2]


def test_isolated_set_is_not_empty_and_not_everything():
    """The height test below must cover most bands, and the criterion must actually split them."""
    assert 20 <= len(ISOLATED) < len(BANDS)


@pytest.mark.parametrize(("name", "family"), ISOLATED)
def test_isolated_cluster_band_height_and_width(name, family):
    """Isolated bands (the other clusters vary by ≤ 20 % of this band's height across it): height
    above the local rubber-band baseline within 25 % of the generated height (≤ 21 % reached over
    60 seeds, mostly read low by the light smoothing), FWHM within 20 % of the generated 8–13 nm
    (≤ 16 % reached)."""
    case = ALL_CASES[name]
    for seed in SEEDS:
        wavelength, absorbance, *_ = reading(name, seed)
        band = reader.band_at(wavelength, absorbance, FAMILIES_NM[family])
        assert band is not None, seed
        assert band.height_au == pytest.approx(case.clusters[family], rel=0.25), seed
        assert band.fwhm_nm == pytest.approx(case.cluster_fwhm_nm, rel=0.2), seed
        assert band.snr >= 10.0, seed


@pytest.mark.parametrize(("name", "family"), sorted(set(BANDS) - set(ISOLATED)))
def test_overlapping_cluster_band_height(name, family):
    """Overlapping bands (e.g. CdSe-380 23 nm from a CdSe-403 twice its height): the neighbour lifts
    the valley the baseline drops into, so the height is read low, never high: 0.6–1.1 × generated
    (0.66–0.96 reached over 60 seeds). Genuinely ambiguous without a model: only this much is asserted."""
    for seed in SEEDS:
        wavelength, absorbance, *_ = reading(name, seed)
        band = reader.band_at(wavelength, absorbance, FAMILIES_NM[family])
        assert band is not None, seed
        assert 0.6 <= band.height_au / ALL_CASES[name].clusters[family] <= 1.1, seed


@pytest.mark.parametrize(
    ("grid_nm", "noise", "rayleigh", "turbidity"),
    [((300.0, 800.0, 1.0), 0.002, 0.05, 0.0), ((300.0, 800.0, 0.5), 0.005, 0.2, 0.0), ((320.0, 780.0, 2.0), 0.001, 0.1, 0.05)],
)
def test_featureless_background_has_no_bands_and_no_exciton(grid_nm, noise, rayleigh, turbidity):
    """A smooth λ⁻⁴ (and λ⁻¹) background with noise: no band, no family, no exciton — a rising
    background is not an exciton."""
    start, stop, step = grid_nm
    wavelength = np.arange(start, stop + step / 2, step)
    clean = 0.01 + rayleigh * (400.0 / wavelength) ** 4 + turbidity * (400.0 / wavelength)
    for seed in range(10):
        absorbance = clean + np.random.default_rng(seed).normal(0.0, noise, wavelength.size)
        assert reader.resolved_bands(wavelength, absorbance) == [], seed
        assert reader.msc_families(wavelength, absorbance) == set(), seed
        assert reader.nc_exciton_nm(wavelength, absorbance) is None, seed


@pytest.mark.parametrize("position_nm", [437.0, 465.0])
def test_width_tells_an_nc_exciton_from_a_cluster_band(position_nm):
    """An NC exciton placed exactly at a cluster position is resolved as a band there, but 20–30 nm
    wide: it is not a cluster family, and it is read as the exciton (±6 nm)."""
    nc = nc_for_exciton(position_nm, dispersion=0.04, first_band_au=0.15)
    for seed in SEEDS:
        wavelength, absorbance, truth = spectrum(Case(nc, noise_au=0.002), seed)
        broad = reader.band_at(wavelength, absorbance, position_nm, max_fwhm_nm=np.inf)
        assert broad is not None, seed
        assert broad.fwhm_nm >= 20.0, seed
        assert reader.band_at(wavelength, absorbance, position_nm) is None, seed
        assert reader.msc_families(wavelength, absorbance) == set(), seed
        assert reader.nc_exciton_nm(wavelength, absorbance) == pytest.approx(truth["exciton_nm"], abs=6.0), seed


def test_reading_is_grid_independent():
    """The same crowded spectrum on 0.5, 1 and 2 nm grids: windows are in nm, so the readings agree (±3 nm)."""
    readings = []
    for step in (0.5, 1.0, 2.0):
        wavelength, absorbance, truth = spectrum(replace(CASES["crowded_2.3nm"], grid_nm=(300.0, 700.0, step)), 0)
        assert reader.msc_families(wavelength, absorbance) == truth["families"], step
        readings.append(reader.nc_exciton_nm(wavelength, absorbance))
    assert np.ptp(readings) <= 3.0, readings
