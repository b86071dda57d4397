"""The physics twin against the seed papers' facts (tolerances as stated in issue 3).

Palencia et al., Nanoscale 2020, 12, 22928 (flow reactor); Prins et al., Nano Lett. 2021
(batch hot injection, their kinetic simulation). "Present" for an MSC band means ≥ 0.02 AU
(20× the spectrometer noise) and ≥ 8 % of the absorbance at its wavelength
(``autolab.sim.observables``).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from autolab import sim
from autolab.materials import MSC_FAMILIES, aggregation_number, yu_diameter_nm, yu_wavelength_nm
from autolab.sim import Conditions, facts, simulate
from autolab.sim.batch import HotInjectionParameters, hot_injection


def test_fig4_table_sizes_and_aggregation_numbers():
    """Palencia Fig. 4: 350/380/403/437/467 nm → 1.09/1.37/1.58/1.85/2.06 nm, N = 12/25/38/61/84."""
    for wavelength, diameter, units in zip(
        (350, 380, 403, 437, 467), (1.09, 1.37, 1.58, 1.85, 2.06), (12, 25, 38, 61, 84), strict=True
    ):
        assert yu_diameter_nm(wavelength) == pytest.approx(diameter, abs=0.02)
        assert aggregation_number(yu_diameter_nm(wavelength)) == pytest.approx(units, abs=2)


def test_yu_curve_inverts():
    for wavelength in (420.0, 490.0, 527.0, 572.0, 640.0):
        assert yu_wavelength_nm(yu_diameter_nm(wavelength)) == pytest.approx(wavelength, abs=0.2)
    # 572 nm ↔ 3.6 nm (Palencia's TEM at 350 °C, 7.6 s)
    assert yu_diameter_nm(572.0) == pytest.approx(3.6, abs=0.05)


def test_fact1_msc437_present_inside_the_window_at_14s():
    """Palencia Fig. 1: CdSe-437 present at 270–300 °C nucleation and absent at ≥ 320 °C."""
    present = facts.fact1_msc437_window()["present"]
    assert all(present[t] for t in (270, 280, 290, 300))
    assert not any(present[t] for t in (320, 330, 350))


def test_fact1_msc437_absent_below_the_window_at_14s():
    """Palencia Fig. 1: no CdSe-437 at ≤ 250 °C at 14 s (NCs rather than MSCs)."""
    present = facts.fact1_msc437_window()["present"]
    assert not any(present[t] for t in (230, 240, 250))


def test_fact1_msc437_grows_with_growth_temperature():
    """Palencia Fig. 1: within the window the 437 band grows with growth temperature."""
    for t_nuc, bands in facts.fact1_msc437_window()["rises_with_growth_T"].items():
        assert bands[0] < bands[1] < bands[2], (t_nuc, bands)


def test_fact2_mscs_form_at_every_temperature_at_4_5s():
    """Palencia Fig. S2: MSC bands at 260, 280 and 350 °C at 4.5 s, several families in all."""
    result = facts.fact2_mscs_at_short_time()
    assert all(result[t] for t in (260, 280, 350)), result
    assert len(set().union(*result.values())) >= 2, result


def test_fact3_exciton_at_350c_7_6s():
    """Palencia: 350 °C, 7.6 s gives NCs with their first exciton at 572 ± 8 nm (3.6 ± 0.15 nm)."""
    exciton = facts.fact3_exciton_350c()
    assert exciton == pytest.approx(572.0, abs=8.0)
    assert yu_diameter_nm(exciton) == pytest.approx(3.6, abs=0.15 + 0.15)  # ±8 nm spans ±0.15 nm more


def test_fact4_exciton_shift_at_280c_with_msc437():
    """Palencia: at 280 °C the NC exciton moves 490 → 527 nm (4.5 → 14 s, ± 10 nm), CdSe-437 at both."""
    result = facts.fact4_exciton_280c()
    assert result[4.5]["exciton_nm"] == pytest.approx(490.0, abs=10.0)
    assert result[14.0]["exciton_nm"] == pytest.approx(527.0, abs=10.0)
    assert result[4.5]["msc437"]
    assert result[14.0]["msc437"]


def test_no_ncs_at_260c_after_4_5s():
    """Palencia: at ≤ 260 °C no NCs at 4.5 s."""
    assert facts.no_nc_at_short_time_low_t() is None


def test_fact5_saxs_radius_steps_at_1_5s():
    """Palencia Fig. 2 (1.5 s, growth 230 °C), the quantized part: 0.87 nm at 190 °C, 0.94 nm at
    200–220 °C, a 1.02 nm shoulder at 230 °C, fully developed at 240 °C (± 0.04 nm on the radii)."""
    radii = facts.fact5_saxs_radius_steps()
    assert radii[190] == pytest.approx(0.87, abs=0.04)
    for t in (200, 210, 220):
        assert radii[t] == pytest.approx(0.94, abs=0.04)
    assert 0.94 - 0.04 <= radii[230] <= 1.02 + 0.04
    assert radii[240] == pytest.approx(1.02, abs=0.04)
    # "Steps … stays": the 190 → 200 °C rise is larger than the spread over 200–220 °C (a smooth
    # rise meets the numbers above within ± 0.04 nm: test_calibration_loss_refuses_a_fact5_fit…).
    plateau = [radii[t] for t in (200, 210, 220)]
    assert radii[200] - radii[190] > max(plateau) - min(plateau)


def test_fact5_one_family_leads_at_a_time():
    """Palencia Fig. 2 read as they read their Monte-Carlo fits (volume fractions of the species SAXS
    resolves): CdSe-403 (r 0.87 nm) at 190 °C, CdSe-437 (0.94 nm) at 200–220 °C, a CdSe-465 (1.02 nm)
    shoulder at 230 °C — present (≥ 10 %) but not leading — that leads at 240 °C. "Leads" is more
    than half the resolved volume; no NCs in the optical sense (≥ 2 % of the CdSe) before 250 °C."""
    shares = facts.fact5_saxs_volume_fractions()
    assert shares[190]["CdSe-403"] > 0.5
    for t in (200, 210, 220):
        assert shares[t]["CdSe-437"] > 0.5, (t, shares[t])
    assert 0.1 <= shares[230]["CdSe-465"] < 0.5
    assert shares[240]["CdSe-465"] > 0.5
    for t in (190, 200, 210, 220, 230, 240):
        state = sim.steady_state(Conditions(t, 230, 1.5))
        assert state.units_in_nc_mm < 0.02 * state.precursor0_mm


def test_fact5_continuous_growth_from_250c():
    """Palencia Fig. 2: from 250 °C nucleation "the onset of continuous growth of the NCs" — the
    mean radius rises with nucleation temperature past the CdSe-465 step, and the rise is NCs': a
    population beyond the families that grows with temperature to ≥ 10 % of the resolved volume
    at 280 °C (by Palencia's own 0.021 nm/s radius growth at 280 °C the rise itself can only be a
    few hundredths of a nm in 1.5 s, so no size is asked). The 260 °C / 4.5 s point keeps "no NCs"
    (test_no_ncs_at_260c_after_4_5s)."""
    radii = facts.fact5_saxs_radius_steps()
    onset = (240, 250, 260, 270, 280)
    assert all(radii[lo] < radii[hi] for lo, hi in itertools.pairwise(onset)), radii
    nc_share = {t: shares["NC"] for t, shares in facts.fact5_saxs_volume_fractions().items()}
    assert all(nc_share[lo] < nc_share[hi] for lo, hi in itertools.pairwise(onset)), nc_share
    assert nc_share[280] >= 0.1
    assert all(nc_share[t] < 0.02 for t in (190, 200, 210, 220, 230, 240)), nc_share


def test_hot_chambers_seed_nc_through_precursor_compounds_whatever_the_chamber_time():
    """How the twin reconciles fact 5's onset with "no NCs at ≤ 260 °C / 4.5 s": above ≈ 270 °C a
    share of the assembling PCs — set by the chamber temperature, not the time there — passes
    straight on to its MSC, CdSe-465, whose monomer uptake makes the first NCs. So the 0.9 s chamber
    of a 4.5 s point seeds as many of them as the 0.3 s chamber of a 1.5 s point, where a rate
    would seed three times as many (docs/sim.md, "Fact 5")."""
    from dataclasses import replace

    from autolab.sim.kinetics import DEFAULT_PARAMETERS as p
    from autolab.sim.kinetics import precursor_compound_direct_share, react

    shares = [precursor_compound_direct_share(t) for t in (240, 250, 260, 270, 280, 300)]
    assert shares == sorted(shares)
    assert shares[0] < 1e-3, shares
    assert shares[1] < 0.02, shares
    assert shares[-1] > 0.99, shares
    assert precursor_compound_direct_share(p.precursor_compound_direct_c) == pytest.approx(0.5)

    # Pathway 1 alone (no nuclei): every particle is a PC's. At 280 °C the PCs are CdSe-465's, and
    # each one that passed on is one CdSe-465 cluster or, after monomer uptake, one NC.
    no_nuclei = replace(p, k_nucleation_per_mm_s=0.0)

    def seeded(params, chamber_s):
        state = react(280, 230, 0.0, chamber_s, params)
        return state.msc_mm["CdSe-465"] + state.nc_mm.sum(), state.units_in_nc_mm

    expected = p.precursor_compound_fraction * 10.0 / 84 * precursor_compound_direct_share(280)
    (short, nc_short), (long, nc_long) = seeded(no_nuclei, 0.3), seeded(no_nuclei, 0.9)
    assert short == pytest.approx(expected, rel=0.01)
    assert long == pytest.approx(expected, rel=0.01)  # the settled PCs' slow rate adds < 1 %
    assert nc_long > nc_short > 0.0  # the seeds grow into NCs with time, their number does not
    # A rate in their place (PCs → CdSe-465 at 0.5 s⁻¹, no share) seeds ≈ 2.6× as many in 0.9 s.
    rate = replace(no_nuclei, precursor_compound_direct_c=1000.0, k_precursor_compound_per_s=0.5)
    assert seeded(rate, 0.9)[0] > 2.4 * seeded(rate, 0.3)[0]
    # Below the onset (the switch 40 K hotter) almost nothing is seeded.
    cold = replace(no_nuclei, precursor_compound_direct_c=p.precursor_compound_direct_c + 40.0)
    assert seeded(cold, 0.3)[0] < 0.05 * short


@pytest.mark.parametrize(("temperature_c", "visible"), [(25.0, True), (50.0, True), (100.0, False)])
def test_fact6_precursor_mesophase_bragg_peaks(temperature_c, visible):
    """Palencia Fig. 3: Bragg peaks at 1.84 and 3.69 nm⁻¹ at room temperature, weaker at 50 °C,
    gone at 100 °C (± 0.05 nm⁻¹)."""
    q = np.linspace(1.0, 5.0, 801)
    result = simulate(Conditions(temperature_c, temperature_c, 14.0), q_nm_inv=q)
    excess = result.intensity - np.interp(q, q[[0, -1]], result.intensity[[0, -1]])
    peaks = []
    for centre in (1.84, 3.69):
        window = np.abs(q - centre) < 0.3
        peaks.append((q[window][np.argmax(excess[window])], excess[window].max()))
    if visible:
        for (position, height), expected in zip(peaks, (1.84, 3.69), strict=True):
            assert position == pytest.approx(expected, abs=0.05)
            assert height > 0.02
    else:
        assert all(height < 0.005 for _, height in peaks)


def test_mesophase_weaker_at_50c_than_room_temperature():
    order = [simulate(Conditions(t, t, 14.0)).truth["mesophase_order"] for t in (25.0, 50.0, 100.0)]
    assert order[0] > order[1] > 0.1 > 0.05 > order[2]


@pytest.fixture(scope="module")
def prins_runs():
    return {n: hot_injection(HotInjectionParameters(growth_exponent=n)) for n in (0, 2, 4)}


def test_fact7_nucleation_lasts_longer_with_growth_exponent(prins_runs):
    """Prins Fig. 5d inset: t98(NC concentration) / t98(yield) ≈ 5 % at n = 0 → ≈ 16 % at n = 4
    (± 4 points), rising with n; 98 % yield near 800 s."""
    ratios = {n: run.nucleation_fraction for n, run in prins_runs.items()}
    assert ratios[0] == pytest.approx(0.05, abs=0.04)
    assert ratios[4] == pytest.approx(0.16, abs=0.04)
    assert ratios[0] < ratios[2] < ratios[4]
    for run in prins_runs.values():
        assert run.time_to_fraction_s(run.yield_fraction) == pytest.approx(800.0, rel=0.15)


def test_fact8_superfocusing_narrows_the_distribution(prins_runs):
    """Prins Fig. 5f: with n ≥ 2 σ_r falls once nucleation stops (absolute focusing); with n = 0 it
    does not."""
    def sigma_at(run, t):
        return run.std_radius_nm[run.time_s.searchsorted(t)]

    for n, run in prins_runs.items():
        end_of_nucleation = run.time_to_fraction_s(run.nc_concentration_mm)
        end_of_growth = run.time_to_fraction_s(run.yield_fraction)
        before, after = sigma_at(run, end_of_nucleation), sigma_at(run, end_of_growth)
        if n == 0:
            assert after >= before
        else:
            assert after < 0.7 * before, (n, before, after)


def test_mass_is_conserved():
    state = sim.steady_state(Conditions(300, 280, 10.0))
    total = state.precursor_mm + state.monomer_mm + state.units_in_pc_mm + state.units_in_msc_mm + state.units_in_nc_mm
    assert total == pytest.approx(state.precursor0_mm, rel=1e-6)


@pytest.mark.parametrize("nucleating", [True, False])
def test_analytic_jacobian_matches_finite_differences(nucleating):
    """The integrator trusts kinetics.jac; check it column by column against the rhs (growth and dissolution)."""
    from autolab.sim.kinetics import DEFAULT_PARAMETERS, _model

    model = _model(DEFAULT_PARAMETERS)
    rng = np.random.default_rng(7)
    for monomer_mm in (0.002, 0.3):  # below and above the NCs' Gibbs–Thomson solubility: both upwind directions
        clusters = rng.uniform(1e-4, 1e-2, 2 * model.n_msc)  # MSCs, then their precursor compounds
        y = np.concatenate([[5.0, monomer_mm], clusters, rng.uniform(0, 1e-4, len(model.centres_nm))])
        rates = model.rates(560.0)
        jac = model.jac(y, rates, nucleating)
        for j in range(len(y)):
            step = 1e-5 * max(abs(y[j]), 1e-4) * np.eye(len(y))[j]  # central differences
            column = (model.rhs(y + step, rates, nucleating) - model.rhs(y - step, rates, nucleating)) / (2 * step[j])
            np.testing.assert_allclose(jac[:, j], column, rtol=1e-3, atol=1e-6 * np.abs(jac).max(), err_msg=f"column {j}")


def test_noise_is_seeded_and_reproducible():
    a = simulate(Conditions(280, 280, 14.0), rng=np.random.default_rng(5))
    b = simulate(Conditions(280, 280, 14.0), rng=np.random.default_rng(5))
    c = simulate(Conditions(280, 280, 14.0), rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a.absorbance, b.absorbance)
    assert not np.array_equal(a.absorbance, c.absorbance)
    clean = simulate(Conditions(280, 280, 14.0))
    assert np.std(a.absorbance - clean.absorbance) == pytest.approx(1e-3, rel=0.2)


def test_any_wavelength_grid():
    grid = np.array([350.0, 437.0, 437.5, 600.0])
    result = simulate(Conditions(280, 280, 14.0), wavelength_nm=grid)
    assert result.absorbance.shape == (4,)
    full = simulate(Conditions(280, 280, 14.0))
    assert result.absorbance[1] == pytest.approx(full.absorbance[137])


def test_simulate_many_matches_simulate():
    points = [Conditions(260 + 10 * i, 260, 4.5) for i in range(4)]
    many = sim.simulate_many(points, processes=2)
    for point, result in zip(points, many, strict=True):
        np.testing.assert_allclose(result.absorbance, simulate(point).absorbance)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nucleation_temperature_c": 500}, "nucleation_temperature_c=500 is outside the twin's range 0–400 °C"),
        ({"residence_time_s": -1.0}, "residence_time_s=-1.0 must be a finite time ≥ 0 s"),
        ({"cd_precursor_mm": 0.0}, "cd_precursor_mm=0.0 is outside the twin's range 0.1–500 mM"),
        ({"se_precursor_mm": float("nan")}, "se_precursor_mm=nan is outside the twin's range 0.1–500 mM"),
    ],
)
def test_bad_conditions_are_named(kwargs, message):
    values = {"nucleation_temperature_c": 280, "growth_temperature_c": 280, "residence_time_s": 14.0} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        Conditions(**values)


def test_saxs_radius_needs_two_percent_of_the_cdse_in_resolved_particles():
    """A mean radius of traces is not a measurement: without the precursor compounds (Pathway 2
    alone) the twin puts < 2 % of the CdSe in particles of d ≥ 1.6 nm at 1.5 s / 230 °C (it once
    reported a flat 0.94 nm from 1e-7 to 5e-4 of it); at 280 °C / 14 s SAXS resolves the
    CdSe-437/465 clusters and NCs (1.0–1.3 nm)."""
    from dataclasses import replace

    from autolab.sim.observables import saxs_mean_radius_nm, saxs_resolved_fraction
    from autolab.sim.parameters import DEFAULT_PARAMETERS

    pathway2 = replace(DEFAULT_PARAMETERS, precursor_compound_fraction=0.0)
    early = sim.steady_state(sim.Conditions(240, 230, 1.5), pathway2)
    assert saxs_resolved_fraction(early) < 0.02
    assert saxs_mean_radius_nm(early) is None
    assert saxs_mean_radius_nm(early, min_fraction=0.0) == pytest.approx(0.94, abs=0.01)
    assert saxs_mean_radius_nm(sim.steady_state(sim.Conditions(280, 280, 14.0))) == pytest.approx(1.15, abs=0.15)


def test_precursor_compounds_form_in_the_chamber_and_transform_first_order():
    """Yu's Pathway 1 (two-pathway SI): part of the fresh mixture self-assembles into precursor
    compounds (PCs) in the chamber, each the quasi-isomer of one MSC family chosen by the chamber's
    temperature, and turns into that MSC with first-order kinetics (CdS PC-311 → MSC-311). PCs have
    no band of their own and scatter with their family's SAXS size (Yu SI Table S2)."""
    from dataclasses import replace

    from autolab.sim.kinetics import DEFAULT_PARAMETERS as p
    from autolab.sim.kinetics import precursor_compound_direct_share, precursor_compound_shares, react
    from autolab.sim.optics import absorbance
    from autolab.sim.scattering import intensity

    names = [name for name, _, _ in MSC_FAMILIES]
    low, high = p.precursor_compound_switch_c
    for t, family in ((low - 15, "CdSe-403"), (0.5 * (low + high), "CdSe-437"), (high + 15, "CdSe-465")):
        shares = precursor_compound_shares(t)
        assert shares.sum() == pytest.approx(1.0)
        assert shares[names.index(family)] > 0.95, (t, shares)
    for t, (below, above) in ((low, ("CdSe-403", "CdSe-437")), (high, ("CdSe-437", "CdSe-465"))):
        shares = precursor_compound_shares(t)
        assert shares[names.index(below)] == pytest.approx(shares[names.index(above)], rel=0.02)
    # First order at 280 °C (chamber and oven alike), from f·P0 CdSe units made as CdSe-465 PCs
    # less the share that passed straight on to CdSe-465 as they assembled.
    k = p.k_precursor_compound_per_s  # given at the 280 °C reference temperature
    settled = p.precursor_compound_fraction * 10.0 / 84 * (1.0 - precursor_compound_direct_share(280))
    for residence in (0.0, 5.0, 10.0):
        left = react(280, 280, residence, 0.5).pc_mm["CdSe-465"]
        assert left == pytest.approx(settled * np.exp(-k * (0.5 + residence)), rel=0.01)
    assert react(280, 280, 10.0, 0.0).pc_mm == {}  # no chamber, no induction period
    assert react(280, 280, 10.0, 0.5, replace(p, precursor_compound_fraction=0.0)).pc_mm == {}
    # Seen by SAXS, not by UV-Vis.
    state = sim.steady_state(Conditions(200, 230, 1.5))
    bare = replace(state, pc_mm={})
    np.testing.assert_array_equal(absorbance(state, sim.DEFAULT_WAVELENGTH_NM), absorbance(bare, sim.DEFAULT_WAVELENGTH_NM))
    q = sim.DEFAULT_Q_NM_INV[sim.DEFAULT_Q_NM_INV < 3.0]
    assert np.all(intensity(state, q) > intensity(bare, q))


def test_one_activation_energy_for_all_steps_cannot_make_the_window():
    """Why the ladder has one activation energy per step: the first calibration (one for all,
    SINGLE_EA_PARAMETERS) leaves CdSe-437 at 240–250 °C and makes it fall with growth temperature,
    and puts no MSC band at 260 °C / 4.5 s — the facts the default set (per step) reproduces."""
    from autolab.sim.parameters import SINGLE_EA_PARAMETERS as single

    window = facts.fact1_msc437_window(single)
    assert window["present"][240]
    assert window["present"][250]
    assert all(bands[0] > bands[2] for bands in window["rises_with_growth_T"].values()), window["rises_with_growth_T"]
    assert not facts.fact2_mscs_at_short_time(single)[260]


def test_the_limiting_precursor_caps_the_cdse_and_an_excess_speeds_its_conversion():
    """Cd:Se: CdSe units = the limiting precursor (mass balance to 1e-6 relative, either way round);
    conversion pseudo-first-order in it with k_p·(excess/limiting) (first order in each precursor,
    the second-order monomer generation Prins et al. fit after Abe et al. 2012), to 1 %."""
    from autolab.materials import celsius_to_kelvin
    from autolab.sim.kinetics import DEFAULT_PARAMETERS as p
    from autolab.sim.kinetics import arrhenius, react

    default = simulate(Conditions(280, 280, 14.0))
    equimolar = simulate(Conditions(280, 280, 14.0, cd_precursor_mm=10.0, se_precursor_mm=10.0))
    np.testing.assert_array_equal(default.absorbance, equimolar.absorbance)
    cd_poor = sim.steady_state(Conditions(280, 280, 14.0, cd_precursor_mm=5.0, se_precursor_mm=10.0))
    se_poor = sim.steady_state(Conditions(280, 280, 14.0, cd_precursor_mm=10.0, se_precursor_mm=5.0))
    for state in (cd_poor, se_poor):
        assert state.precursor0_mm == 5.0
        total = state.precursor_mm + state.monomer_mm + state.units_in_pc_mm + state.units_in_msc_mm + state.units_in_nc_mm
        assert total == pytest.approx(5.0, rel=1e-6)
    np.testing.assert_allclose(cd_poor.nc_mm, se_poor.nc_mm)
    k_p = arrhenius(p.k_precursor_per_s, p.ea_precursor_j_per_mol, celsius_to_kelvin(240.0), celsius_to_kelvin(280.0))
    for se_mm in (10.0, 30.0):
        left = react(240, 240, 1.0, 0.0, cd_precursor_mm=10.0, se_precursor_mm=se_mm).precursor_mm
        assert left == pytest.approx(10.0 * np.exp(-k_p * (se_mm / 10.0) * 1.0), rel=0.01)


def test_cli_simulate_json_and_plot(tmp_path):
    """`autolab simulate … --json` prints the spectra on their grids and the truth; --plot writes a PNG;
    a bad precursor concentration is one line naming the field, exit code 2."""
    import json
    import subprocess
    import sys

    base = [sys.executable, "-m", "autolab", "simulate",
            "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14"]
    out = subprocess.run([*base, "--se-precursor-mm", "30", "--seed", "3", "--json", "--plot", str(tmp_path / "p.png")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["wavelength_nm"]) == len(data["absorbance"]) == 401
    assert len(data["q_nm_inv"]) == len(data["intensity"]) == 250
    assert data["conditions"]["se_precursor_mm"] == 30.0
    expected = simulate(Conditions(280, 280, 14.0, se_precursor_mm=30.0)).truth
    assert data["truth"]["nc_exciton_nm"] == expected["nc_exciton_nm"]
    assert data["truth"]["yield_fraction"] == pytest.approx(expected["yield_fraction"])
    assert (tmp_path / "p.png").stat().st_size > 10_000
    bad = subprocess.run([*base, "--cd-precursor-mm", "0"], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "autolab: error: cd_precursor_mm=0.0 is outside the twin's range 0.1–500 mM"


def test_the_cd_precursor_and_its_mesophase_scatter_in_proportion_to_the_cd_left():
    """Palencia Fig. 3: the mesophase and the low-q maximum belong to the Cd precursor, so at room
    temperature (nothing reacted) doubling Cd doubles them, and an Se excess changes nothing."""
    from autolab.sim.scattering import DEFAULT_SCATTERING

    def excess(**precursors):
        result = simulate(Conditions(25, 25, 0.0, **precursors))
        return result.intensity - DEFAULT_SCATTERING.background_cm_inv

    base = excess()
    np.testing.assert_allclose(excess(cd_precursor_mm=20.0), 2.0 * base, rtol=1e-9)
    np.testing.assert_allclose(excess(se_precursor_mm=20.0), base, rtol=1e-9)


_CALIBRATION_SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "calibrate_twin.py"


def _calibration_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("calibrate_twin", _CALIBRATION_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_calibration_loss_of_the_defaults():
    """docs/calibrate_twin.py: the default set pays nothing on the facts' own lines (the window,
    MSCs at 4.5 s, the fact-5 radii, families and shoulder, no NCs before 250 °C, the precursor at
    50 °C, the ranges) — only the margins the loss aims at beyond the tests' lines, together < 1.
    Without Yu's Pathway 1, a 1.5 s point SAXS cannot see costs a graded term that falls as the
    resolved share rises."""
    from dataclasses import replace

    from autolab.sim.parameters import DEFAULT_PARAMETERS

    calibrate = _calibration_script()
    total, terms = calibrate.loss(calibrate.default_x(), details=True)
    lines = ("f1_present", "f1_absent", "f2_msc", "f4_437", "nc_not_msc", "f5_r", "f5_230", "f5_step", "f5_leads",
             "f5_shoulder", "f5_plateau", "f5_no_nc", "f6", "bound")
    assert {k: v for k, v in terms.items() if k.startswith(lines) and v > 1e-6} == {}
    assert total < 1.0
    fact5 = sum(v for k, v in terms.items() if k.startswith("f5"))
    pathway2 = replace(DEFAULT_PARAMETERS, precursor_compound_fraction=0.0)
    calibrate._configure((), base=pathway2)
    try:
        _, without_pcs = calibrate.loss(calibrate.default_x(pathway2), details=True)
        seen = [without_pcs[f"f5_seen_{t}"] for t in (190, 220, 250, 280)]
        assert all(v > 0 for v in seen)
        assert seen == sorted(seen, reverse=True)  # more is resolved at hotter nucleation
        calibrate._configure((), weights={"f5": 3.0})
        assert calibrate.loss(calibrate.default_x()) == pytest.approx(total + 2 * fact5, rel=1e-9)
    finally:
        calibrate._configure(())


#: A set a calibration run found on 2026-11-23 (`--weight f5=2`, then refined; rounded to 4 digits)
#: that meets fact 5's numbers while breaking the chemistry around them (docs/sim.md, "Fact 5 …").
_FACT5_BY_THE_NUMBERS = dict(
    precursor_compound_fraction=0.0,  # found before the twin had Yu's Pathway 1
    k_precursor_per_s=31.84, ea_precursor_j_per_mol=5575.0, k_nucleation_per_mm_s=0.08819,
    ea_nucleation_j_per_mol=-18810.0, k_steps_per_mm_s=(10.06, 11.45, 36.28, 9.62),
    k_to_nc_per_mm_s=(0.0, 0.0, 0.03775, 0.0, 0.04309), ea_steps_j_per_mol=(28380.0, 13020.0, 411400.0, 35720.0),
    ea_to_nc_j_per_mol=-9652.0, solubility_mm=0.0001518, dh_solubility_j_per_mol=109600.0,
    surface_energy_j_per_m2=0.3771, growth_rate_constant_m_per_s=8.085e-06, ea_growth_j_per_mol=-14050.0,
    chamber_to_oven_volume_ratio=0.0499,
)


def test_calibration_loss_refuses_a_fact5_fit_that_is_not_the_chemistry():
    """Fact 5's radii alone can be met by a set that is not Palencia's chemistry: its 1.5 s radius
    rises smoothly through CdSe-403 + NC mixtures (no 190 → 200 °C step, no CdSe-437 plateau, NCs
    at every nucleation temperature) and its precursor reacts at 50 °C, so fact 6's mesophase
    would be gone. The calibration loss must price each of those, and its ranges must bind."""
    from autolab.sim.parameters import KineticParameters

    params = KineticParameters(**_FACT5_BY_THE_NUMBERS)
    radii = facts.fact5_saxs_radius_steps(params)
    # The fact-5 test's numbers hold …
    assert radii[190] == pytest.approx(0.87, abs=0.04)
    assert all(radii[t] == pytest.approx(0.94, abs=0.04) for t in (200, 210, 220))
    assert radii[240] == pytest.approx(1.02, abs=0.04)
    assert radii[240] < radii[250] < radii[260] < radii[280]
    # … but not the shape: the 190 → 200 °C step is 0.016 nm, not Palencia's 0.07 nm, and smaller
    # than the rise over the 200–220 °C "plateau" (what test_fact5_saxs_radius_steps_at_1_5s now checks) …
    assert radii[200] - radii[190] < 0.03
    assert radii[200] - radii[190] < radii[220] - radii[200]
    warm = sim.steady_state(Conditions(50.0, 50.0, 14.0), params)
    assert warm.precursor_mm < 0.5 * warm.precursor0_mm  # … and the precursor mixture reacts at 50 °C.

    calibrate = _calibration_script()
    calibrate._configure((), base=params)
    try:
        _total, terms = calibrate.loss(calibrate.default_x(params), details=True)
    finally:
        calibrate._configure(())
    assert terms["f5_step"] > 1.0
    assert terms["f5_plateau"] > 0.1
    assert all(terms[f"f5_no_nc_{t}"] > 1.0 for t in (190, 200, 210, 220, 230, 240))
    assert terms["f6_precursor_stable_50"] > 100.0
    for name in ("ea_precursor_j_per_mol", "ea_step2", "surface_energy_j_per_m2", "ea_growth_j_per_mol"):
        assert terms[f"bound_{name}"] > 0.1, name


def test_calibration_stops_at_its_time_limit_and_refuses_bad_options():
    """A search whose pool never answers (a run once hung with its workers gone) stops at
    --time-limit-s with exit status 3 and a one-line reason, instead of waiting for ever; a bad
    --time-limit-s or --set is refused up front (status 2, one line)."""
    import subprocess
    import sys

    def run(*options):
        command = [sys.executable, str(_CALIBRATION_SCRIPT), "--samples", "2", "--refine", "1", "--iterations", "2", *options]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    out = run("--time-limit-s", "0.5")
    assert out.returncode == 3, out.stderr
    assert "--time-limit-s=0.5 s" in out.stderr
    assert out.stdout == ""
    refused = run("--time-limit-s", "-5")  # refused before any work, naming the value and the range
    assert refused.returncode == 2
    assert "--time-limit-s=-5" in refused.stderr
    assert "must be > 0" in refused.stderr
    for bad, says in (("ea_step9=2e5", "no coordinate 'ea_step9'"), ("ea_step1=fast", "VALUE a number")):
        refused = run("--set", bad)
        assert refused.returncode == 2
        assert says in refused.stderr
        assert "Traceback" not in refused.stderr
    refused = run("--free", "k_step7")
    assert refused.returncode == 2
    assert "--free 'k_step7': no coordinate" in refused.stderr


def test_a_staged_calibration_changes_only_its_free_coordinates():
    """--free: a new piece of the model is fitted on top of the earlier calibration; every other
    field stays exactly that of the start set (default_x would round k_nc403 up into its range)."""
    from dataclasses import asdict

    from autolab.sim.parameters import DEFAULT_PARAMETERS

    calibrate = _calibration_script()
    names = [name for name, *_ in calibrate.SPACE]
    free = [names.index("pc_switch_high_c"), names.index("k_nc465")]
    held = calibrate.default_x()
    calibrate._configure((), free=free, held_x=held)
    try:
        params = calibrate.to_params(calibrate.full_x(np.array([240.0, 0.0])))
    finally:
        calibrate._configure(())
    changed = {k for k, v in asdict(params).items() if v != asdict(DEFAULT_PARAMETERS)[k]}
    assert changed == {"precursor_compound_switch_c", "k_to_nc_per_mm_s"}
    assert params.precursor_compound_switch_c == (DEFAULT_PARAMETERS.precursor_compound_switch_c[0], 240.0)
    assert params.k_to_nc_per_mm_s[4] == 1.0
    assert params.k_to_nc_per_mm_s[2] == DEFAULT_PARAMETERS.k_to_nc_per_mm_s[2]  # not default_x's 1e-4
