"""The UV-Vis analysis on spectra the twin did not make, on the literature, and on bad input (issue 18).

The spectra come from ``tests/independent_spectra.py`` (numpy only, physics unlike the twin's:
Norris–Bawendi transition ladder, pseudo-Voigt lines, asymmetric Lorentzian-tailed cluster bands,
λ⁻⁴ and λ⁻¹ scattering, 0.5–2 nm grids, 0.001–0.005 AU noise). The exciton's ground truth is the
generated noise-free NC spectrum's own first excitonic maximum (or shoulder), its diameter the Yu
2003 curve written out there. Targets (issue 18): exciton within 3 nm, diameter within 0.1 nm,
MSC families exact, no NC in blanks or cluster ladders.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from autolab import sim
from autolab.plugins.uvvis import (
    METRICS,
    analyze_population,
    analyze_spectrum,
    autolab_analyze_uvvis,
    autolab_analyze_uvvis_deferred,
    autolab_metrics,
    msc_sizes,
)
from tests.independent_spectra import (
    CASES,
    HC_EV_NM,
    SHOULDER_CASES,
    cluster_band,
    first_excitonic_maximum,
    nc_component,
    nc_for_exciton,
    nc_slope_at_exciton,
    spectrum,
    with_noise,
)
from tests.independent_spectra import yu_diameter_nm as yu_2003_diameter_nm

SEEDS = range(4)
NC_CASES = [name for name, case in CASES.items() if case.nc is not None]
EMPTY_CASES = [name for name, case in CASES.items() if case.nc is None]


@pytest.mark.parametrize("name", NC_CASES)
def test_nc_exciton_diameter_and_families_on_independent_spectra(name):
    """Isolated NCs (2–5 nm), NCs beside CdSe-437, weak NCs beside strong clusters, crowded
    4.5 s-like mixtures; four noise seeds each. Exciton ± 3 nm of the spectrum's own maximum,
    diameter ± 0.1 nm, families exact (issue 18's targets)."""
    for seed in SEEDS:
        wavelength, absorbance, truth = spectrum(CASES[name], seed)
        out = analyze_spectrum(wavelength, absorbance)
        assert out["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0), seed
        assert out["nc_diameter_nm"] == pytest.approx(truth["diameter_nm"], abs=0.1), seed
        assert set(out["msc_families"]) == truth["families"], seed


@pytest.mark.parametrize("name", EMPTY_CASES)
def test_no_nc_in_blanks_and_cluster_ladders(name):
    """Cluster ladders (asymmetric, Lorentzian-tailed bands of 8–13 nm, λ⁻¹ turbidity) and blanks
    (flat, Rayleigh, turbid baselines): no NC exciton, the families exactly, over four seeds."""
    for seed in SEEDS:
        wavelength, absorbance, truth = spectrum(CASES[name], seed)
        out = analyze_spectrum(wavelength, absorbance)
        assert out["nc_exciton_nm"] is None, (seed, out["nc_exciton_nm"])
        assert out["nc_diameter_nm"] is None
        assert set(out["msc_families"]) == truth["families"], seed


@pytest.mark.parametrize("noise_au", [0.001, 0.003, 0.005])
@pytest.mark.parametrize("name", ["isolated_2.2nm", "isolated_3.0nm", "isolated_4.2nm", "beside_437_2.7nm"])
def test_exciton_holds_over_the_noise_range(name, noise_au):
    """The same spectra at 0.001, 0.003 and 0.005 AU noise (1S bands of 0.06–0.12 AU)."""
    case = with_noise(CASES[name], noise_au)
    for seed in range(3):
        wavelength, absorbance, truth = spectrum(case, seed)
        out = analyze_spectrum(wavelength, absorbance)
        assert out["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0), seed
        assert out["nc_diameter_nm"] == pytest.approx(truth["diameter_nm"], abs=0.1), seed


@pytest.mark.parametrize("name", NC_CASES)
def test_size_dispersion_from_the_band_width(name):
    """σ_d/⟨d⟩ from the exciton band's red half-width within 0.04 of the generated distribution's
    (5–14 %): an estimate — the homogeneous width removed is a nominal 60 meV, the generator's is a
    pseudo-Voigt of ≈ 65 meV with Lorentzian tails, so large NCs read up to 0.03 high."""
    for seed in range(2):
        wavelength, absorbance, truth = spectrum(CASES[name], seed)
        assert analyze_spectrum(wavelength, absorbance)["nc_size_dispersion"] == pytest.approx(truth["dispersion"], abs=0.04), seed


def test_the_exciton_is_the_spectrums_maximum_not_the_first_transitions():
    """The ensemble's maximum sits blue of the 1S band's own maximum (the higher transitions and the
    continuum rise under it); the analysis reads the former, which Yu et al. 2003 calibrated against."""
    case = CASES["isolated_2.2nm"]
    wavelength, absorbance, truth = spectrum(case, 0)
    fine = np.arange(420.0, 560.0, 0.05)
    first_only = float(fine[np.argmax(nc_component(case.nc, fine, first_only=True)[0])])
    assert first_only - truth["exciton_nm"] > 1.5  # a case where the two differ
    out = analyze_spectrum(wavelength, absorbance)
    assert abs(out["nc_exciton_nm"] - truth["exciton_nm"]) < abs(out["nc_exciton_nm"] - first_only)


@pytest.mark.parametrize("name", SHOULDER_CASES)
def test_nc_shoulders_on_independent_spectra(name):
    """NC bands with no maximum, only a shoulder on the rising higher transitions and continuum
    (12–18 % at 2.0–2.6 nm, continua up to 3×, beside CdSe-437; noise 0.001–0.003 AU), twelve
    noise seeds each: the exciton — the shoulder's flattest point, the generator's truth — within
    3 nm, the diameter within 0.1 nm, families exact. Before the shoulder was read off a parabola
    through the derivative's top (``SHOULDER_WINDOWS_NM``), 40 of 96 readings were > 3 nm off (up to
    8.5 nm) or missing; over 24 seeds none are now."""
    case = SHOULDER_CASES[name]
    assert nc_slope_at_exciton(case.nc, case.grid_nm[0], case.grid_nm[1]) < -1e-4  # a shoulder, not a maximum
    for seed in range(12):
        wavelength, absorbance, truth = spectrum(case, seed)
        out = analyze_spectrum(wavelength, absorbance)
        assert out["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0), seed
        assert out["nc_diameter_nm"] == pytest.approx(truth["diameter_nm"], abs=0.1), seed
        assert set(out["msc_families"]) == truth["families"], seed


def test_a_noise_lifted_shoulder_is_read_as_a_shoulder():
    """shoulder_2.4nm_beside_437, seed 21: the noise lifts the shoulder's flat derivative top just
    above zero; its zero crossing, 1 nm red of the top, was read as a maximum 7.4 nm off."""
    wavelength, absorbance, truth = spectrum(SHOULDER_CASES["shoulder_2.4nm_beside_437"], 21)
    assert analyze_spectrum(wavelength, absorbance)["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0)


# --- the literature -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position_nm", "family", "diameter_nm", "units"),
    [(350, "CdSe-350", 1.09, 12), (380, "CdSe-380", 1.37, 25), (403, "CdSe-403", 1.58, 38), (437, "CdSe-437", 1.85, 61), (467, "CdSe-465", 2.06, 84)],
)
def test_palencia_fig4_families(position_nm, family, diameter_nm, units):
    """Palencia et al. 2020, Fig. 4 table: 350/380/403/437/465(467) nm → 1.09/1.37/1.58/1.85/2.06 nm,
    N = 12/25/38/61/84. A lone asymmetric band at the table's position is that family, and its
    size and aggregation number are the table's (± 0.02 nm, ± 2 units)."""
    wavelength = np.arange(300.0, 700.5, 1.0)
    absorbance = 0.004 + 0.005 * (400 / wavelength) ** 4 + cluster_band(wavelength, position_nm, 0.1, 11.0)
    absorbance = absorbance + np.random.default_rng(position_nm).normal(0, 0.002, wavelength.size)
    out = analyze_spectrum(wavelength, absorbance)
    assert out["msc_families"] == [family]
    assert out["nc_exciton_nm"] is None
    assert out[f"msc_absorbance_{family}"] == pytest.approx(0.1, rel=0.25)
    d, n = msc_sizes(position_nm)
    assert d == pytest.approx(diameter_nm, abs=0.02)
    assert n == pytest.approx(units, abs=2)


@pytest.mark.parametrize("wavelength_nm", [450.0, 500.0, 550.0, 600.0, 650.0])
def test_yu_2003_polynomial_transcription(wavelength_nm):
    """The plugin's diameter is Yu et al. 2003's polynomial, as transcribed independently in the
    generator: a check of the transcription, not of the calibration — for measured sizes see
    :func:`test_sizes_against_measured_sizes`."""
    wavelength = np.arange(300.0, 750.5, 1.0)
    nc = nc_for_exciton(wavelength_nm, dispersion=0.06, first_band_au=0.1)
    truth = first_excitonic_maximum(wavelength, nc_component(nc, wavelength)[0])
    absorbance = nc_component(nc, wavelength)[0] + 0.003 + np.random.default_rng(1).normal(0, 0.001, wavelength.size)
    out = analyze_spectrum(wavelength, absorbance)
    assert out["nc_exciton_nm"] == pytest.approx(wavelength_nm, abs=3.0)
    assert out["nc_diameter_nm"] == pytest.approx(float(yu_2003_diameter_nm(out["nc_exciton_nm"])), abs=1e-9)
    assert out["nc_diameter_nm"] == pytest.approx(float(yu_2003_diameter_nm(truth)), abs=0.1)


#: Measured sizes beside the absorption maxima of the same samples. Yu et al. 2003's own calibration
#: points (TEM diameters against first-exciton maxima, their Fig. 2) are not in this repository or its
#: seeds (/work/shared/seeds), so the measured pairs come from Palencia et al., Nanoscale 2020, 12,
#: 22928 (seeds/palencia2020_flow_reactor_cdse_msc.md): (1) NCs at 350 °C / 7.6 s, 3.6 nm by TEM,
#: first absorption maximum 572 nm; (2) MSC families by SAXS after selective precipitation, 1.74,
#: 1.88 and 2.04 nm for the 403, 437 and 465 nm bands.
MEASURED_NC = [(572.0, 3.6, "TEM, Palencia 2020")]
MEASURED_MSC = [(403.0, 1.74, "SAXS, Palencia 2020"), (437.0, 1.88, "SAXS, Palencia 2020"), (465.0, 2.04, "SAXS, Palencia 2020")]


@pytest.mark.parametrize(("exciton_nm", "measured_nm", "source"), MEASURED_NC)
def test_nc_size_against_a_measured_size(exciton_nm, measured_nm, source):
    """An independent NC spectrum whose first excitonic maximum is at the sample's (572 nm): the
    diameter the plugin reads is the measured one (3.6 nm by TEM) within 0.1 nm — the TEM size's own
    uncertainty is of that order (a lattice plane is 0.35 nm); Yu 2003 gives 3.57 nm there."""
    wavelength = np.arange(300.0, 700.5, 1.0)
    nc = nc_for_exciton(exciton_nm, dispersion=0.07, first_band_au=0.08)
    for seed in range(3):
        absorbance = nc_component(nc, wavelength)[0] + 0.003 + np.random.default_rng(seed).normal(0, 0.002, wavelength.size)
        assert analyze_spectrum(wavelength, absorbance)["nc_diameter_nm"] == pytest.approx(measured_nm, abs=0.1), (source, seed)


@pytest.mark.parametrize(("band_nm", "measured_nm", "source"), MEASURED_MSC)
def test_msc_sizes_against_measured_sizes(band_nm, measured_nm, source):
    """The cluster families' diameters (Yu 2003 at the band: 1.58, 1.85, 2.06 nm) against SAXS of
    the same families: within 0.05 nm for CdSe-437 and CdSe-465 (1.88, 2.04 nm); CdSe-403 reads
    0.16 nm smaller than SAXS's 1.74 nm, which Palencia place at SAXS's resolution limit (≈ 1.6 nm)
    and below the Yu calibration (1.9 nm): within 0.2 nm there."""
    diameter, _ = msc_sizes(band_nm)
    assert diameter == pytest.approx(measured_nm, abs=0.2 if diameter < 1.6 else 0.05), source


@pytest.mark.parametrize("exciton_nm", [490.0, 527.0, 550.0, 572.0, 600.0, 620.0])
def test_sizes_agree_with_another_tem_calibration(exciton_nm):
    """Jasieniak et al., J. Phys. Chem. C 2009, 113, 19468 calibrated the same curve again (TEM and
    ICP-OES, 2–8 nm): D = 59.60816 − 0.54736 λ + 1.8873e-3 λ² − 2.85743e-6 λ³ + 1.62974e-9 λ⁴. The
    two calibrations differ by up to 0.16 nm at 527–572 nm; the plugin's (Yu's) diameters lie within
    0.2 nm of Jasieniak's over 490–620 nm (2.3–5.5 nm)."""
    jasieniak = 59.60816 - 0.54736 * exciton_nm + 1.8873e-3 * exciton_nm**2 - 2.85743e-6 * exciton_nm**3 + 1.62974e-9 * exciton_nm**4
    assert float(yu_2003_diameter_nm(exciton_nm)) == pytest.approx(jasieniak, abs=0.2)
    assert msc_sizes(exciton_nm)[0] == pytest.approx(jasieniak, abs=0.2)


@pytest.mark.parametrize(
    ("exciton_nm", "diameter_nm", "with_437"),
    [(572.0, 3.6, False), (490.0, 2.25, True), (527.0, 2.70, True)],
)
def test_palencia_nc_points(exciton_nm, diameter_nm, with_437):
    """Palencia 2020: 350 °C / 7.6 s, first absorption maximum 572 nm and 3.6 nm by TEM; 280 °C,
    490 nm (4.5 s) and 527 nm (14 s) beside CdSe-437. The exciton ± 3 nm, the diameter ± 0.1 nm of
    TEM (572 nm) or of the Yu curve (2.25 and 2.70 nm at 490 and 527 nm)."""
    wavelength = np.arange(300.0, 700.5, 1.0)
    nc = nc_for_exciton(exciton_nm, dispersion=0.08, first_band_au=0.05)
    absorbance = nc_component(nc, wavelength)[0] + 0.003 + 0.004 * (400 / wavelength) ** 4
    if with_437:
        absorbance = absorbance + cluster_band(wavelength, 437.0, 0.1, 10.0)
    absorbance = absorbance + np.random.default_rng(3).normal(0, 0.0015, wavelength.size)
    out = analyze_spectrum(wavelength, absorbance)
    assert out["nc_exciton_nm"] == pytest.approx(exciton_nm, abs=3.0)
    assert out["nc_diameter_nm"] == pytest.approx(diameter_nm, abs=0.1)
    assert out["msc_families"] == (["CdSe-437"] if with_437 else [])


# --- the twin's own spectra, read against an independent reader ------------------------------


def twin_own_exciton_nm(result) -> float:
    """The twin's NC spectrum (noise-free, no clusters, no scattering) read model-free: its own
    first excitonic maximum or shoulder, by the generator's reader (not the twin's ``truth``)."""
    from autolab.sim.optics import nc_absorbance

    fine = np.arange(420.0, 700.0, 0.02)
    nc = nc_absorbance(result.state, fine)
    return first_excitonic_maximum(fine, nc, near_nm=result.truth["nc_exciton_nm"])


def test_twin_at_280c_4p5s():
    """At 280 °C / 4.5 s (CdSe-403/437 and an NC shoulder red of them) the plugin reads the twin's
    own NC shoulder (≈ 499 nm; the twin's ``truth``, the maximum of its first-transition envelope
    alone, is 500.5 nm) within 3 nm noise-free and at 10 s integration (1e-4 AU) in each of ten
    seeds, and within 7 nm at the default noise (1e-3 AU). It also names CdSe-465, of which the
    twin holds none: the NCs of the smallest class (d ≈ 2.1 nm, first exciton near 470 nm) make
    that band (docs/analysis.md, "Limits")."""
    clean = sim.simulate(sim.Conditions(280, 280, 4.5))
    own = twin_own_exciton_nm(clean)
    out = analyze_spectrum(clean.wavelength_nm, clean.absorbance)
    assert out["nc_exciton_nm"] == pytest.approx(own, abs=3.0)
    assert set(out["msc_families"]) == {"CdSe-403", "CdSe-437", "CdSe-465"}
    assert clean.state.msc_mm["CdSe-465"] < 1e-6
    for seed in range(10):
        noisy = sim.measure(clean, np.random.default_rng(seed))
        assert analyze_spectrum(noisy.wavelength_nm, noisy.absorbance)["nc_exciton_nm"] == pytest.approx(own, abs=7.0), seed
        quiet = sim.measure(clean, np.random.default_rng(seed), integration_time_s=10.0)
        assert analyze_spectrum(quiet.wavelength_nm, quiet.absorbance)["nc_exciton_nm"] == pytest.approx(own, abs=3.0), seed


@pytest.mark.parametrize("conditions", [(280, 280, 14.0), (330, 330, 10.0), (350, 350, 7.6)])
def test_twin_spectra_read_like_the_independent_reader(conditions):
    """The twin's noise-free spectra: the exciton within 3 nm of the independent reader's."""
    clean = sim.simulate(sim.Conditions(*conditions))
    out = analyze_spectrum(clean.wavelength_nm, clean.absorbance)
    assert out["nc_exciton_nm"] == pytest.approx(twin_own_exciton_nm(clean), abs=3.0)


# --- metric names and the deferred, model-based population fit ------------------------------


def test_metric_names_have_no_dots():
    """One name per metric across the CLI, the catalog and the objectives: no dot inside a name."""
    wavelength, absorbance, _ = spectrum(CASES["beside_437_2.7nm"], 0)
    names = set(analyze_spectrum(wavelength, absorbance)) | set(autolab_metrics())
    assert not [name for name in names if "." in name]
    assert "msc_absorbance_CdSe-437" in names
    assert set(analyze_spectrum(wavelength, absorbance)) == set(METRICS)


def test_hooks_return_the_inline_and_the_deferred_metrics():
    """The inline hook is model-free; the deferred hook gives the model-based ``nc_population_*``."""
    wavelength, absorbance, truth = spectrum(CASES["isolated_3.0nm"], 0)
    inline = autolab_analyze_uvvis(wavelength, absorbance, {"path_length_cm": 0.05})
    assert inline["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0)
    assert not [name for name in inline if name.startswith("nc_population_")]
    deferred = autolab_analyze_uvvis_deferred(wavelength, absorbance, {})
    # Its own warnings key: ``autolab analyze`` merges the deferred metrics over the inline ones.
    names = ("concentration_um", "mean_diameter_nm", "size_dispersion", "warnings")
    assert set(deferred) == {f"nc_population_{name}" for name in names}
    assert deferred["nc_population_mean_diameter_nm"] == pytest.approx(3.0, abs=0.4)


def test_deferred_population_without_ncs_is_empty():
    wavelength, absorbance, _ = spectrum(CASES["ladder_437"], 0)
    out = analyze_population(wavelength, absorbance)
    assert out["nc_population_mean_diameter_nm"] is None
    assert out["nc_population_concentration_um"] is None


def test_a_population_fit_that_finds_no_band_near_the_exciton_says_why():
    """Where the fitted size classes make no band within reach of the exciton the moments are None and a warning gives the distance."""
    from autolab.plugins.uvvis_nanocrystals import POPULATION_REACH_NM, nc_population

    wavelength, absorbance, truth = spectrum(CASES["isolated_3.0nm"], 0)
    warnings: list[str] = []
    far = truth["exciton_nm"] + 3 * POPULATION_REACH_NM  # an exciton the spectrum does not have
    assert nc_population(np.asarray(wavelength), np.asarray(absorbance), far, {}, 10.0, 0.05, 0.03, warnings) == {}
    (warning,) = warnings
    nearest = float(re.search(r"lies at ([\d.]+) nm", warning).group(1))
    assert nearest == pytest.approx(truth["exciton_nm"], abs=10.0)
    assert f"more than {POPULATION_REACH_NM:g} nm away" in warning


# --- bad input: one clear ValueError, or a repair named in the warnings ------------------------


def good_spectrum():
    wavelength, absorbance, truth = spectrum(CASES["beside_437_2.7nm"], 0)
    return wavelength, absorbance, truth


@pytest.mark.parametrize(
    ("wavelength", "absorbance", "message"),
    [
        ([], [], "the spectrum is empty: it needs ≥ 20 (wavelength_nm, absorbance) pairs"),
        (np.arange(400.0, 410.0), np.zeros(10), "the spectrum has 10 usable (wavelength_nm, absorbance) pairs: it needs ≥ 20"),
        (np.arange(400.0, 450.0), np.zeros(49), "wavelength_nm has 50 values and absorbance 49: they must pair up one to one"),
        (np.zeros((2, 30)), np.zeros((2, 30)), "wavelength_nm must be one column (1-D) of numbers, got shape (2, 30)"),
        (["a"] * 30, np.zeros(30), "wavelength_nm must be numbers; got list that cannot be read as numbers"),
        (np.arange(-10.0, 40.0), np.zeros(50), "wavelength_nm=-10 is not a wavelength: wavelengths must be > 0 nm"),
        (np.arange(400.0, 450.0), np.full(50, np.nan), "the spectrum has 0 usable (wavelength_nm, absorbance) pairs: it needs ≥ 20"),
        (np.arange(400.0, 450.0), np.full(50, 5.0), "absorbance is above the detector's range (≤ 4 AU) at every wavelength: dilute the sample"),
    ],
)
def test_bad_input_is_one_clear_value_error(wavelength, absorbance, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        analyze_spectrum(wavelength, absorbance)


def test_saturation_inside_the_spectrum_is_an_error():
    wavelength, absorbance, _ = good_spectrum()
    absorbance = absorbance.copy()
    absorbance[200] = np.inf
    message = (
        f"absorbance=inf AU at {wavelength[200]:g} nm is above the detector's range (≤ 4 AU) inside the spectrum: "
        "dilute the sample or shorten the path"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        analyze_spectrum(wavelength, absorbance)


def test_descending_axis_is_sorted_and_said_so():
    wavelength, absorbance, _ = good_spectrum()
    forward = analyze_spectrum(wavelength, absorbance)
    out = analyze_spectrum(wavelength[::-1], absorbance[::-1])
    assert out["warnings"] == ["the wavelengths were in descending order: sorted"]
    assert out["nc_exciton_nm"] == forward["nc_exciton_nm"]
    assert out["msc_families"] == forward["msc_families"]


def test_nan_points_are_dropped_and_said_so():
    wavelength, absorbance, truth = good_spectrum()
    absorbance = absorbance.copy()
    absorbance[[10, 11, 500]] = np.nan
    out = analyze_spectrum(wavelength, absorbance)
    assert out["warnings"] == [f"dropped 3 of {wavelength.size} points with a NaN or infinite wavelength or a NaN or −inf absorbance"]
    assert out["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0)


def test_duplicated_wavelengths_are_averaged_and_said_so():
    wavelength, absorbance, _ = good_spectrum()
    doubled_lam = np.concatenate([wavelength, wavelength[100:110]])
    doubled_a = np.concatenate([absorbance, absorbance[100:110]])
    out = analyze_spectrum(doubled_lam, doubled_a)
    assert out["warnings"] == ["the wavelengths were not in order: sorted", "averaged the absorbance of 10 duplicated wavelengths (10 extra points)"]
    assert out["nc_exciton_nm"] == pytest.approx(analyze_spectrum(wavelength, absorbance)["nc_exciton_nm"], abs=0.01)


def test_a_saturated_uv_end_is_trimmed_and_said_so():
    """A concentrated sample: the detector sees no light below 320 nm (absorbance > 4 AU or inf)."""
    wavelength, absorbance, truth = good_spectrum()
    absorbance = absorbance.copy()
    absorbance[wavelength < 320] = np.inf
    absorbance[(wavelength >= 320) & (wavelength < 330)] = 4.5
    out = analyze_spectrum(wavelength, absorbance)
    assert out["warnings"] == ["trimmed 60 points above the detector's range (> 4 AU): 300–329.5 nm"]
    assert out["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0)
    assert analyze_spectrum(wavelength, np.where(absorbance > 4, 3.0, absorbance), max_absorbance_au=2.5)["warnings"]


def test_an_energy_axis_is_refused_with_a_hint():
    """A file in eV (1.8–4.1) is 2.3 'nm' wide: refused, naming the range and the likely cause."""
    wavelength, absorbance, _ = good_spectrum()
    energy = HC_EV_NM / wavelength
    message = f"wavelength_nm spans {energy.min():g}–{energy.max():g} (2.36 nm): a spectrum needs ≥ 30 nm (is the axis in eV or cm⁻¹?)"
    with pytest.raises(ValueError, match=re.escape(message)):
        analyze_spectrum(energy, absorbance)


@pytest.mark.parametrize(
    ("make", "value", "above"),
    [
        (lambda lam: np.where(np.arange(lam.size) == 150, 7e6, lam), "7e+06", 1),  # one mistyped row
        (lambda lam: np.linspace(300.0, 1e9, lam.size), "1e+09", None),  # a grid that would not fit in memory
        (lambda lam: 10.0 * lam, None, None),  # an axis in Å
        (lambda lam: 1e7 / lam, None, None),  # an axis in cm⁻¹
    ],
)
def test_wavelengths_beyond_a_spectrometers_range_are_refused(make, value, above):
    """Above 5000 nm (UV-Vis-NIR spectrometers end near 3300 nm) a wavelength is a corrupted row or
    another unit: one ValueError naming the field, the value and the range, at once — not a
    resampling grid of millions of points (a 7e6 nm row took 2.3 s) or a MemoryError."""
    wavelength, absorbance, _ = good_spectrum()
    bad = make(wavelength)
    shown = value or f"{bad.max():g}"
    count = above or int((bad > 5000).sum())
    message = (
        f"wavelength_nm={shown} is outside a spectrometer's range: wavelengths must be > 0 and ≤ 5000 nm "
        f"({count} of {bad.size} points are above it; a mistyped row, or an axis in Å or cm⁻¹?)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        analyze_spectrum(bad, absorbance)
    with pytest.raises(ValueError, match=re.escape(message)):
        analyze_population(bad, absorbance)


@pytest.mark.parametrize("name", ["isolated_3.0nm", "beside_437_2.7nm", "crowded_2.5nm"])
def test_a_spectrum_reaching_into_the_near_infrared_is_read_to_750_nm(name):
    """A UV-Vis-NIR spectrum, here the case continued with its own baseline and noise to 1100 nm (a
    silicon detector's end) and to 5000 nm (the bound), is read exactly as its part up to 750 nm:
    CdSe absorbs nothing further red, and a λ⁻⁴ baseline fitted to a far-red tail is noise (read
    whole to 2500 nm, 29 of 69 independent spectra lost or misread their exciton)."""
    case = CASES[name]
    for seed in range(2):
        wavelength, absorbance, truth = spectrum(case, seed)
        step = wavelength[1] - wavelength[0]
        extra = np.arange(wavelength[-1] + step, 5000.0 + step / 2, step)
        baseline = case.offset_au + case.rayleigh_au_at_400nm * (400 / extra) ** 4 + case.turbidity_au_at_400nm * (400 / extra)
        tail = baseline + np.random.default_rng(seed + 50).normal(0.0, case.noise_au, extra.size)
        lam, a = np.r_[wavelength, extra], np.r_[absorbance, tail]
        visible = analyze_spectrum(lam[lam <= 750.0], a[lam <= 750.0])
        assert visible["nc_exciton_nm"] == pytest.approx(truth["exciton_nm"], abs=3.0), seed
        for end in (1100.0, 5000.0):
            out = analyze_spectrum(lam[lam <= end], a[lam <= end])
            assert out == visible, (seed, end)


def test_a_spectrum_with_too_little_of_the_visible_is_refused():
    wavelength = np.arange(740.0, 1700.0, 1.0)
    message = (
        "wavelength_nm spans 740–1699 nm with 11 points at or below 750 nm: "
        "the analysis needs ≥ 20 there over ≥ 30 nm (CdSe absorbs blue of ≈ 720 nm)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        analyze_spectrum(wavelength, np.zeros(wavelength.size))


def test_no_traceback_from_numpy_on_odd_but_valid_input():
    """Short (20 points), coarse (5 nm), flat, negative, or constant spectra give an answer, not an error."""
    wavelength = np.linspace(300.0, 700.0, 20)
    for absorbance in (np.zeros(20), np.full(20, -0.01), np.linspace(1.0, 0.0, 20)):
        out = analyze_spectrum(wavelength, absorbance)
        assert out["nc_exciton_nm"] is None
        assert out["msc_families"] == []
