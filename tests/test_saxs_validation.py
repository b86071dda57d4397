"""The SAXS plugin on patterns it did not make (``tests/independent_saxs.py``: sasmodels, counts).

Targets: radius within 3 % and polydispersity within ±0.03 on single populations (radii
0.8–3 nm, Schulz and Gaussian polydispersity 0.03–0.15, linear and log grids, a smeared and a
background-subtracted pattern); two populations resolved by the deferred size distribution; every
mesophase found with its lamellar orders (q₁ within 0.02 nm⁻¹, d within 1 %), and none on
sphere patterns, two populations or a blank; bad input refused with one clear ValueError or
repaired and said in ``warnings``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from autolab.analysis.files import read_saxs
from autolab.plugins import saxs
from tests import independent_saxs as ind

CASES = {p.name: p for p in ind.validation_set()}
SINGLE = [name for name, p in CASES.items() if "radius_nm" in p.truth]
TWO = [name for name, p in CASES.items() if "radii_nm" in p.truth]
MESOPHASE = [name for name, p in CASES.items() if p.truth["mesophase"]]
NO_MESOPHASE = [name for name, p in CASES.items() if not p.truth["mesophase"]]


@pytest.mark.parametrize("name", SINGLE)
def test_sphere_fit_reads_independent_single_populations(name):
    pattern = CASES[name]
    out = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    assert out["radius_nm"] == pytest.approx(pattern.truth["radius_nm"], rel=0.03)
    assert out["polydispersity"] == pytest.approx(pattern.truth["polydispersity"], abs=0.03)
    assert out["chi2_reduced"] < 10.0
    assert out["fit_success"]
    assert out["mesophase"] is False
    assert out["warnings"] == []
    assert not any(key.startswith("mcsas_") for key in out)  # the distribution is deferred


@pytest.mark.parametrize("name", SINGLE[:3])
def test_sphere_fit_without_sigma_uses_the_estimated_noise(name):
    pattern = CASES[name]
    out = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, None)
    assert out["radius_nm"] == pytest.approx(pattern.truth["radius_nm"], rel=0.03)
    assert out["polydispersity"] == pytest.approx(pattern.truth["polydispersity"], abs=0.03)
    with_sigma = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    assert out["chi2_reduced"] == pytest.approx(with_sigma["chi2_reduced"], rel=0.5)  # the estimate is the counting noise
    assert any("no sigma" in w for w in out["warnings"])


@pytest.mark.parametrize("name", TWO)
def test_one_sphere_population_on_two_is_said_not_to_fit(name):
    pattern = CASES[name]
    out = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    assert any("one population of spheres does not describe this pattern" in w for w in out["warnings"])


@pytest.mark.slow
@pytest.mark.parametrize("name", TWO)
def test_deferred_size_distribution_resolves_two_populations(name):
    """Volume in 0.75–1.33 × each radius: both populations hold ≥ 15 %, each within 0.2 of its share."""
    pattern = CASES[name]
    out = saxs.autolab_analyze_saxs_deferred(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    assert set(out) == {k for k, (_, text) in saxs.METRICS.items() if text.startswith("(deferred)")}
    radius = np.array(out["mcsas_histogram_radius_nm"])
    volume = np.array(out["mcsas_histogram_volume_fraction"])
    for r, share in zip(pattern.truth["radii_nm"], pattern.truth["volume_shares"], strict=True):
        found = volume[(radius > 0.75 * r) & (radius < 1.33 * r)].sum()
        assert found > 0.15, (r, found)
        assert found == pytest.approx(share, abs=0.2), (r, found)
    small, large = pattern.truth["radii_nm"]
    between = volume[(radius > 1.4 * small) & (radius < 0.7 * large)].sum()
    assert between < 0.1  # two populations, not one broad one


@pytest.mark.parametrize("name", MESOPHASE)
def test_mesophase_and_its_lamellar_orders(name):
    pattern = CASES[name]
    out = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    assert out["mesophase"] is True
    assert out["lamellar_orders"] == pattern.truth["orders"]
    q1 = pattern.truth["q1_nm_inv"]
    assert out["bragg_peaks_nm_inv"][0] == pytest.approx(q1, abs=0.02)
    if 2 in pattern.truth["orders"]:
        assert out["bragg_peaks_nm_inv"][1] == pytest.approx(2 * q1, abs=0.03)
        assert out["order_ratio"] == pytest.approx(2.0, abs=0.03)
    assert out["d_spacing_nm"] == pytest.approx(pattern.truth["d_spacing_nm"], rel=0.01)
    assert all(z >= saxs.ORDER_Z for z in out["bragg_peak_significance"])


def test_a_weak_second_order_does_not_decide_the_mesophase():
    """Palencia Fig. 3 at room temperature with the second order at 5 % of the first, and absent."""
    for heights, orders in (((0.1, 0.005), [1, 2]), ((0.1, 0.0), [1])):
        pattern = ind.mesophase_pattern("weak", seed=31, heights=heights)
        out = saxs.detect_mesophase(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
        assert out["mesophase"] is True
        assert out["lamellar_orders"] == orders
        assert out["d_spacing_nm"] == pytest.approx(3.41, abs=0.03)


@pytest.mark.parametrize("name", NO_MESOPHASE)
def test_no_mesophase_in_the_validation_set(name):
    pattern = CASES[name]
    for sigma in (pattern.sigma, None):
        out = saxs.detect_mesophase(pattern.q_nm_inv, pattern.intensity, sigma)
        assert out["mesophase"] is False
        assert out["bragg_peaks_nm_inv"] == []


def test_no_false_mesophase_on_sphere_patterns_with_counting_noise():
    """96 sphere patterns × (σ given, σ estimated): sharp form-factor minima (pd 0.03), 10⁵–10⁶
    counts, linear and log grids; not one Bragg peak."""
    grids = (ind.pyfai_grid(points=400), ind.pyfai_grid(0.08, 5.0, 500, spacing="log"))
    false = []
    for radius, pd, grid, flux, seed in itertools.product((0.8, 1.5, 2.2, 3.0), (0.03, 0.08, 0.15), grids, (2e5, 2e6), (0, 1)):
        pattern = ind.sphere_pattern("fp", radius, pd, seed=100 + seed, grid=grid, flux=flux)
        for sigma in (pattern.sigma, None):
            out = saxs.detect_mesophase(pattern.q_nm_inv, pattern.intensity, sigma)
            if out["bragg_peaks_nm_inv"]:
                false.append((radius, pd, len(grid), flux, seed, sigma is None, out["bragg_peaks_nm_inv"]))
    assert false == []


def test_a_pyfai_file_reads_as_the_arrays(tmp_path):
    pattern = CASES["mesophase RT 1.84 + 3.69 (Palencia Fig. 3)"]
    q, intensity, sigma = read_saxs(ind.write_pyfai(pattern, tmp_path / "precursor_rt.dat"))
    from_file = saxs.autolab_analyze_saxs(q, intensity, sigma)
    from_arrays = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    assert from_file["lamellar_orders"] == from_arrays["lamellar_orders"] == [1, 2]
    assert from_file["d_spacing_nm"] == pytest.approx(from_arrays["d_spacing_nm"], rel=1e-4)


@pytest.mark.parametrize(("radius", "pd"), [(0.8, 0.03), (1.5, 0.1), (2.2, 0.15), (3.0, 0.05), (1.0, 0.0)])
def test_the_numpy_sphere_model_is_sasmodels_sphere(radius, pd):
    """Within 0.5 % of sasmodels on a fine quadrature (where I > 0.1 % of I(0), i.e. away from the
    deepest minima)."""
    q = np.geomspace(0.1, 5.0, 300)
    reference = ind._call(
        "sphere", q, radius=10.0 * radius, radius_pd=pd, radius_pd_n=401, radius_pd_nsigma=10, radius_pd_type="schulz",
        sld=saxs.CDSE_SLD, sld_solvent=saxs.SOLVENT_SLD, scale=1.0, background=0.0,
    )
    ours = saxs.schulz_spheres(q, radius, pd)
    assert np.max(np.abs(ours - reference) / (reference + 1e-3 * reference[0])) < 5e-3


def test_every_metric_is_declared():
    pattern = CASES["mesophase beside NCs r1.6"]
    inline = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    declared = {k for k, (_, text) in saxs.METRICS.items() if not text.startswith("(deferred)")}
    assert set(inline) == declared


# --- large patterns: analysed on a rebinned copy ---------------------------------------------------
#: The validation set's patterns on finer grids, with the same total counts (the generator's flux is
#: per point of a median annulus: 400/points of it keeps the detector's counts of a 400-point pattern).
FINE_GRIDS = {
    "linear 2000": ind.pyfai_grid(0.08, 5.0, 2000),
    "log 2000": ind.pyfai_grid(0.08, 5.0, 2000, spacing="log"),
    "linear 4000": ind.pyfai_grid(0.08, 5.0, 4000),
}


FINE_SPHERES = {
    "r0.8 pd0.10 gauss": lambda grid, flux: ind.sphere_pattern("f", 0.8, 0.10, seed=1, distribution="gaussian", grid=grid, flux=flux),
    "r1.2 pd0.15": lambda grid, flux: ind.sphere_pattern("f", 1.2, 0.15, seed=3, grid=grid, flux=flux),
    "r2.2 pd0.03 smeared": lambda grid, flux: ind.sphere_pattern("f", 2.2, 0.03, seed=5, grid=grid, flux=flux, dq_nm_inv=0.02),
    "r3.0 pd0.06": lambda grid, flux: ind.sphere_pattern("f", 3.0, 0.06, seed=7, grid=grid, flux=flux),
    "r1.5 subtracted": lambda grid, flux: ind.sphere_pattern(
        "f", 1.5, 0.08, seed=8, grid=grid, flux=flux, subtract_background=True, background=0.03
    ),
}
FINE_MESOPHASES = {
    "RT 1.84 + 3.69": lambda grid, flux: ind.mesophase_pattern("f", seed=12, heights=(0.15, 0.05), grid=grid, flux=flux),
    "weak 2nd order": lambda grid, flux: ind.mesophase_pattern(
        "f", seed=13, heights=(0.08, 0.006), grid=grid, flux=flux, shape="gaussian", hwhm_nm_inv=0.045
    ),
    "50 °C (weak)": lambda grid, flux: ind.mesophase_pattern("f", seed=15, heights=(0.02, 0.004), grid=grid, flux=flux),
    "beside NCs r1.6": lambda grid, flux: ind.mesophase_pattern(
        "f", seed=16, heights=(0.1, 0.03), particles=(1.6, 0.08, 1e-3), grid=grid, flux=flux
    ),
    "lamellar stack d3.41 t1.2": lambda grid, flux: ind.lamellar_stack_pattern("f", seed=17, grid=grid, flux=flux),
    "stack, even orders extinct": lambda grid, flux: ind.lamellar_stack_pattern("f", seed=18, thickness_nm=1.705, grid=grid, flux=flux),
}


def test_rebinned_keeps_small_patterns_and_bins_large_ones():
    """≤ 500 points: the pattern itself. More: ≤ 500 bins over 0.08–5 nm⁻¹, none wider than 1.2 % of q
    or 0.015 nm⁻¹ (the validated grids are coarser), I and q the bins' means, σ the mean's error."""
    q = ind.pyfai_grid(points=400)
    assert saxs.rebinned(q, q, q)[0] is q
    for grid in FINE_GRIDS.values():
        qb, ib, sb = saxs.rebinned(grid, 2.0 + 0 * grid, np.full_like(grid, 0.3))
        assert len(qb) <= 500
        assert np.all(np.diff(qb) > 0)
        assert np.allclose(ib, 2.0)
        counts = np.array([np.sum(np.abs(grid - qc) <= 0.5 * max(0.012 * qc, 0.015)) for qc in qb])
        assert np.all(counts >= 1)
        steps = np.diff(qb)
        assert np.all(steps <= np.maximum(0.0125 * qb[1:], 0.0156) + np.gradient(grid).max())
        assert np.all(sb <= 0.3 + 1e-12)  # a bin's σ falls as 1/√n …
        n_first = np.sum(grid < grid[0] * 1.012)
        assert sb[0] == pytest.approx(0.3 / np.sqrt(n_first))  # … exactly so


@pytest.mark.parametrize("grid", FINE_GRIDS)
@pytest.mark.parametrize("name", FINE_SPHERES)
def test_large_sphere_patterns_read_like_the_validation_set(name, grid):
    """2000- and 4000-point patterns (pyFAI's default 1D integration is often finer than the
    validation set's 250–500 points) meet the same targets; they are analysed on ≤ 500 bins."""
    q = FINE_GRIDS[grid]
    pattern = FINE_SPHERES[name](q, 2e5 * 400 / len(q))
    for sigma in (pattern.sigma, None):
        out = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, sigma)
        assert out["radius_nm"] == pytest.approx(pattern.truth["radius_nm"], rel=0.03), sigma is None
        assert out["polydispersity"] == pytest.approx(pattern.truth["polydispersity"], abs=0.03), sigma is None
        assert out["chi2_reduced"] < 10.0
        assert out["mesophase"] is False


@pytest.mark.parametrize("grid", FINE_GRIDS)
@pytest.mark.parametrize("name", FINE_MESOPHASES)
def test_large_mesophase_patterns_read_like_the_validation_set(name, grid):
    """Without rebinning, on 4000 points the local windows (≤ 40 points a side) shrank to ±0.05 nm⁻¹
    and 9 of these 12 readings (6 patterns, σ given and not) missed the mesophase or an order. The
    set's lamellar stack of 8 layers at d = 4.2 nm is left out on these grids: its finite-stack
    fringes near 0.5 and 0.88 nm⁻¹ stand out as extra peaks on any log grid this fine (a 480-point
    one without rebinning too), though its orders [1, 2] are found."""
    q = FINE_GRIDS[grid]
    pattern = FINE_MESOPHASES[name](q, 2e5 * 400 / len(q))
    for sigma in (pattern.sigma, None):
        out = saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, sigma)
        assert out["mesophase"] is True
        assert out["lamellar_orders"] == pattern.truth["orders"]
        assert out["bragg_peaks_nm_inv"][0] == pytest.approx(pattern.truth["q1_nm_inv"], abs=0.02)
        assert out["d_spacing_nm"] == pytest.approx(pattern.truth["d_spacing_nm"], rel=0.01)


def test_large_patterns_cost_what_a_500_point_one_does(monkeypatch):
    """The work is bounded: every fit and peak search of a 4000-point pattern sees ≤ 500 points."""
    seen = []
    fit = saxs.fit_sphere
    monkeypatch.setattr(saxs, "fit_sphere", lambda q, *a, **k: seen.append(len(q)) or fit(q, *a, **k))
    find = saxs._find_bragg
    monkeypatch.setattr(saxs, "_find_bragg", lambda q, *a: seen.append(len(q)) or find(q, *a))
    pattern = FINE_MESOPHASES["beside NCs r1.6"](FINE_GRIDS["linear 4000"], 2e4)
    saxs.autolab_analyze_saxs(pattern.q_nm_inv, pattern.intensity, pattern.sigma)
    assert seen
    assert max(seen) <= 500


# --- bad input -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean():
    return ind.sphere_pattern("clean", 1.5, 0.08, seed=3, grid=ind.pyfai_grid(points=300))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: ([], [], None), "q_nm_inv is empty"),
        (lambda p: (p.q_nm_inv, None, None), "intensity is missing"),
        (lambda p: (np.c_[p.q_nm_inv, p.intensity], p.intensity, None), "q_nm_inv must be one column (1-D) of numbers, got shape (300, 2)"),
        (lambda p: ("q", p.intensity, None), "q_nm_inv must be numbers"),
        (lambda p: (p.q_nm_inv, p.intensity[:-1], p.sigma), "intensity has 299 points but q_nm_inv has 300"),
        (lambda p: (p.q_nm_inv, p.intensity, p.sigma[:-3]), "sigma has 297 points but q_nm_inv has 300"),
        (lambda p: (p.q_nm_inv, np.full(300, np.nan), p.sigma), "only 0 usable point(s)"),
        (lambda p: (p.q_nm_inv[:12], p.intensity[:12], p.sigma[:12]), "only 12 usable point(s)"),
        (lambda p: (p.q_nm_inv, -p.intensity, p.sigma), "intensity has no positive value"),
        (lambda p: (np.full(300, 1.0), p.intensity, p.sigma), "only 1 distinct q value(s)"),
        # A UV-Vis spectrum read as a pattern: its wavelengths (nm) as q.
        (lambda p: (np.linspace(300.0, 800.0, 300), p.intensity, p.sigma), "q_nm_inv reaches 800 nm⁻¹, beyond the 100 nm⁻¹ this SAXS analysis takes"),
    ],
)
@pytest.mark.parametrize("hook", [saxs.autolab_analyze_saxs, saxs.autolab_analyze_saxs_deferred])
def test_bad_input_is_one_clear_value_error(clean, make, message, hook):
    q, intensity, sigma = make(clean)
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        hook(q, intensity, sigma)


def _with_nans(p):
    i = p.intensity.copy()
    i[::10] = np.nan
    return p.q_nm_inv, i, p.sigma


def _duplicated(p):
    q = np.insert(p.q_nm_inv, 50, p.q_nm_inv[50])
    return q, np.insert(p.intensity, 50, p.intensity[50]), np.insert(p.sigma, 50, p.sigma[50])


def _zero_sigma(p):
    s = p.sigma.copy()
    s[::7] = 0.0
    return p.q_nm_inv, p.intensity, s


@pytest.mark.parametrize(
    ("make", "warning"),
    [
        (_with_nans, "dropped 30 point(s) with NaN or infinite q, intensity or sigma"),
        (lambda p: (p.q_nm_inv[::-1], p.intensity[::-1], p.sigma[::-1]), "q_nm_inv was not increasing: sorted"),
        (_duplicated, "merged 1 duplicated q value(s)"),
        (lambda p: (np.r_[0.0, p.q_nm_inv[1:]], p.intensity, p.sigma), "dropped 1 point(s) with q ≤ 0 nm⁻¹"),
        (lambda p: (p.q_nm_inv, p.intensity, None), "no sigma: the noise is estimated"),
        (_zero_sigma, "43 sigma value(s) ≤ 0 replaced"),
        (lambda p: (p.q_nm_inv, p.intensity, -p.sigma), "sigma has no positive value: ignored"),
        (lambda p: (p.q_nm_inv, p.intensity - 0.03, p.sigma), "negative intensity value(s) kept"),
        (lambda p: (p.q_nm_inv / 10.0, p.intensity, p.sigma), "nm⁻¹: if q is in Å⁻¹, multiply it by 10"),
    ],
)
def test_repairable_input_is_repaired_and_said(clean, make, warning):
    q, intensity, sigma = make(clean)
    out = saxs.autolab_analyze_saxs(q, intensity, sigma)
    assert any(warning in w for w in out["warnings"]), out["warnings"]
    if "Å⁻¹" not in warning:
        assert out["radius_nm"] == pytest.approx(1.5, rel=0.03)
        assert out["polydispersity"] == pytest.approx(0.08, abs=0.03)
    assert out["mesophase"] is False
    assert saxs.autolab_analyze_saxs(clean.q_nm_inv, clean.intensity, clean.sigma)["warnings"] == []


@pytest.mark.parametrize("i_unit", [1e-300, 1.0, 1e300])
@pytest.mark.parametrize("s_unit", [1e-200, 1.0, 1e200])
def test_validate_pattern_merges_duplicates_by_inverse_variance(s_unit, i_unit):
    """I = 1 (σ = 1) and 4 (σ = 2) at one q merge to (1 + 4/4)/(1 + 1/4) = 1.6, σ = 1/√1.25, in any
    unit of I and σ (1/σ² of 1e-200 or 1e200 under- or overflows: the merge made I NaN)."""
    q = np.r_[np.linspace(0.1, 5.0, 30), 1.0]
    i = np.r_[np.ones(30), 4.0] * i_unit
    s = np.r_[np.full(30, 1.0), 2.0] * s_unit
    q[np.argmin(np.abs(q[:30] - 1.0))] = 1.0
    q2, i2, s2, warnings = saxs.validate_pattern(q, i, s)
    at = np.flatnonzero(q2 == 1.0)
    assert len(q2) == 30
    assert len(at) == 1
    assert np.isfinite(i2).all()
    assert np.isfinite(s2).all()
    assert i2[at[0]] == pytest.approx(1.6 * i_unit, rel=1e-12)
    assert s2[at[0]] == pytest.approx(s_unit / np.sqrt(1.25), rel=1e-12)
    assert warnings == ["q_nm_inv was not increasing: sorted", "merged 1 duplicated q value(s) (inverse-variance mean)"]


def test_duplicates_merge_when_one_sigma_is_absurdly_small():
    """σ of 1e-200 beside σ of 1: the tiny σ's point carries the merged value, nothing overflows."""
    q = np.r_[np.linspace(0.1, 5.0, 30), 1.0]
    q[np.argmin(np.abs(q[:30] - 1.0))] = 1.0
    i = np.r_[np.ones(30), 4.0]
    s = np.r_[np.full(30, 1.0), 1e-200]
    q2, i2, s2, _ = saxs.validate_pattern(q, i, s)
    at = np.flatnonzero(q2 == 1.0)[0]
    assert i2[at] == pytest.approx(4.0)
    assert s2[at] == pytest.approx(1e-200)


@pytest.mark.parametrize("s_unit", [1e-200, 1e200])
def test_a_pattern_with_duplicates_and_absurd_sigma_is_analysed(clean, s_unit):
    q, intensity, sigma = _duplicated(clean)
    out = saxs.autolab_analyze_saxs(q, intensity, sigma * s_unit)
    assert any("merged 1 duplicated q value(s)" in w for w in out["warnings"])
    assert np.isfinite(out["radius_nm"])
    assert np.isfinite(out["chi2_reduced"])
    assert out["mesophase"] is False
