"""The twin's raw detector data (``autolab.sim.detector_raw``) against hand computations and counting statistics.

The spectrometer's numbers are an Ocean Optics USB4000's (datasheet: 16-bit A/D, 50 counts RMS dark
noise, SNR 300:1 at full signal); the SAXS detector is a PILATUS3-like 172 µm pixel array. Each test
computes what it expects by hand from those numbers (Poisson statistics, the solid angle of a
rectangle, Beer–Lambert), never by calling the function under test twice.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from autolab.sim import detector_raw as raw

LAM = np.arange(300.0, 701.0, 1.0)


def test_dark_is_offset_plus_dark_current_times_integration_time():
    model = raw.DEFAULT_SPECTROMETER
    spectrum = raw.acquire_spectrum(LAM, None, np.random.default_rng(0), integration_time_s=2.0, scans=50, light=False)
    # 1500 counts of offset + 300 counts/s × 2 s; read noise 50/√50 per pixel, 401 pixels averaged.
    assert spectrum.counts.mean() == pytest.approx(model.dark_offset_counts + 600.0, abs=1.0)
    assert not spectrum.saturated.any()


def test_reference_noise_is_shot_noise_times_gain_plus_read_noise():
    """Per scan var = gain·(electrons' counts) + read², the datasheet's SNR 300:1 at full scale by construction."""
    model = raw.DEFAULT_SPECTROMETER
    rng = np.random.default_rng(1)
    scans = np.array([raw.acquire_spectrum(LAM, None, rng, integration_time_s=0.1, scans=1).counts for _ in range(400)])
    mean = scans.mean(axis=0)
    signal = mean - model.dark_offset_counts
    expected_var = model.counts_per_electron * signal + model.read_noise_counts**2 + 1.0 / 12.0  # + rounding
    ratio = scans.var(axis=0, ddof=1) / expected_var
    # 400 scans: each pixel's variance within ±7 % (1σ); the mean over 401 pixels within ±1.5 %.
    assert ratio.mean() == pytest.approx(1.0, abs=0.015)
    # and at full scale the same formula gives the datasheet's SNR of 300:1
    full = model.saturation_counts
    assert full / math.sqrt(model.counts_per_electron * full + model.read_noise_counts**2) == pytest.approx(300.0, rel=0.02)


def test_averaging_scans_divides_the_variance():
    rng = np.random.default_rng(2)
    one = np.array([raw.acquire_spectrum(LAM, None, rng, scans=1).counts for _ in range(200)]).var(axis=0).mean()
    ten = np.array([raw.acquire_spectrum(LAM, None, rng, scans=10).counts for _ in range(200)]).var(axis=0).mean()
    assert one / ten == pytest.approx(10.0, rel=0.15)


def test_sample_counts_follow_beer_lambert():
    """(S − D)/(R − D) = 10^−A on average: the light through the cell falls as the absorbance says."""
    rng = np.random.default_rng(3)
    absorbance = np.linspace(0.0, 1.5, LAM.size)
    n = 50
    sample = np.mean([raw.acquire_spectrum(LAM, absorbance, rng, scans=10).counts for _ in range(n)], axis=0)
    reference = np.mean([raw.acquire_spectrum(LAM, None, rng, scans=10).counts for _ in range(n)], axis=0)
    dark = np.mean([raw.acquire_spectrum(LAM, None, rng, scans=10, light=False).counts for _ in range(n)], axis=0)
    measured = -np.log10((sample - dark) / (reference - dark))
    assert np.abs(measured - absorbance).max() < 0.01


def test_long_integration_saturates_the_brightest_pixels_and_flags_them():
    model = raw.DEFAULT_SPECTROMETER
    spectrum = raw.acquire_spectrum(LAM, None, np.random.default_rng(4), integration_time_s=0.2, scans=3)
    assert spectrum.counts.max() <= model.saturation_counts
    # At 0.2 s the Dα line (656.1 nm, ≈ 1.0e5 counts) is past full scale; the dip near 430 nm (≈ 4.7e4) is not.
    assert spectrum.saturated[LAM == 656.0].all()
    assert not spectrum.saturated[LAM == 430.0].any()
    assert np.all(spectrum.counts[spectrum.saturated.astype(bool)] > 0.95 * model.saturation_counts)


def test_the_lamp_shows_the_deuterium_balmer_lines():
    rate = raw.lamp_counts_per_s(LAM)
    for line_nm in raw.DEUTERIUM_LINES_NM:
        i = int(np.argmin(np.abs(LAM - line_nm)))
        assert rate[i] > rate[i - 4], line_nm
        assert rate[i] > rate[i + 4], line_nm


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"integration_time_s": 0.0}, "integration_time_s=0.0 is outside the allowed range 0.001–65 s"),
        ({"integration_time_s": "fast"}, "integration_time_s='fast' is outside the allowed range 0.001–65 s"),
        ({"scans": 0}, "scans_to_average=0 is outside the allowed range 1–1000"),
    ],
)
def test_bad_spectrometer_settings_are_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        raw.acquire_spectrum(LAM, None, np.random.default_rng(0), **kwargs)


# --- SAXS --------------------------------------------------------------------------------------


def test_q_of_a_pixel_by_hand():
    """Pixel (row 100, column 200): centre 100.5 and 200.5 pixels from the corner, beam at (25, 25)."""
    g = raw.DEFAULT_GEOMETRY
    r_m = math.hypot(75.5 * 172e-6, 175.5 * 172e-6)
    q = 4 * math.pi / 0.1 * math.sin(math.atan(r_m / 0.60) / 2)
    assert g.q_nm_inv()[100, 200] == pytest.approx(q, rel=1e-12)


def test_pixel_solid_angles_add_up_to_the_rectangle_seen_from_the_sample():
    """Σ ΔΩ over the frame = the analytic solid angle of the detector's rectangle (four corner rectangles)."""
    g = raw.DEFAULT_GEOMETRY
    p, d = g.pixel_size_m, g.distance_m
    rows, cols = g.shape
    r0, c0 = g.beam_center_px

    def corner(a, b):  # solid angle of an a × b rectangle with a corner at the foot of the normal
        return math.atan(a * b / (d * math.sqrt(a * a + b * b + d * d)))

    up, down, left, right = r0 * p, (rows - r0) * p, c0 * p, (cols - c0) * p
    total = corner(up, left) + corner(up, right) + corner(down, left) + corner(down, right)
    assert g.solid_angle_sr().sum() == pytest.approx(total, rel=1e-5)


def test_the_frame_spans_the_twin_q_range_outside_the_masks():
    g = raw.DEFAULT_GEOMETRY
    q = g.q_nm_inv()[~g.mask()]
    assert q.min() < 0.1
    assert q.max() > 5.0


def test_flat_scatterer_counts_match_flux_transmission_and_solid_angle():
    """Mean counts per pixel = Φ·t·T·ε·ΔΩ·(d·I + windows) for a flat I, summed over a ring."""
    g = raw.DEFAULT_GEOMETRY
    q_grid = np.geomspace(0.05, 7.0, 50)
    frame = raw.acquire_frame(q_grid, np.full(q_grid.shape, 1.0), np.random.default_rng(5), exposure_time_s=2.0)
    q = g.q_nm_inv()
    ring = (q > 2.0) & (q < 3.0) & ~g.mask()
    # Beer–Lambert through 1 mm of alkane (μ = 1.0 cm⁻¹) and two Kapton windows (0.987).
    transmission = math.exp(-0.1) * 0.987
    assert frame.transmission == pytest.approx(transmission)
    windows = 2e-4 + 1e-5 * q[ring] ** -3
    cos_2theta = np.cos(2 * np.arcsin(q[ring] * 0.1 / (4 * math.pi)))
    omega = (172e-6 / 0.60) ** 2 * cos_2theta**3
    expected = 1e12 * 2.0 * transmission * 0.85 * omega * (0.1 * 1.0 + windows)
    # ≈ 1e4 pixels of ≈ 1.4e4 counts: the sum within 3σ of Poisson.
    assert frame.counts[ring].sum() == pytest.approx(expected.sum(), abs=3 * math.sqrt(expected.sum()))


def test_gaps_read_minus_one_and_the_beamstop_shadow_is_dark():
    g = raw.DEFAULT_GEOMETRY
    q_grid = np.geomspace(0.05, 7.0, 50)
    frame = raw.acquire_frame(q_grid, np.full(q_grid.shape, 1.0), np.random.default_rng(6))
    # PILATUS modules are 195 rows high with 17-row gaps: rows 195–211 of the window.
    assert np.all(frame.counts[195:212] == raw.GAP_VALUE)
    assert np.all(frame.counts[:195] >= 0)
    assert np.all(frame.counts[212:] >= 0)
    assert frame.counts[25, 25] == 0  # the direct beam's pixel, behind the beamstop
    assert frame.counts[g.beamstop_mask()].sum() < 10


def test_empty_cell_transmits_through_the_windows_only():
    frame = raw.acquire_frame([0.1, 5.0], [0.0, 0.0], np.random.default_rng(0), content="empty")
    assert frame.transmission == pytest.approx(0.987)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exposure_time_s": -1}, "exposure_time_s=-1 is outside the allowed range 0.0001–3600 s"),
        ({"content": "water"}, "content='water' is not one of 'sample', 'solvent', 'empty'"),
    ],
)
def test_bad_frame_settings_are_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        raw.acquire_frame([0.1, 5.0], [1.0, 1.0], np.random.default_rng(0), **kwargs)


def test_bad_geometry_is_one_clear_error():
    with pytest.raises(ValueError, match=re.escape("distance_m=0 is outside the allowed range 0.05–20 m")):
        raw.SAXSGeometry(distance_m=0)
