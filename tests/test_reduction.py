"""Reduction (``autolab.analysis.reduction``) against data it did not make, and the calibration plans.

- Absorbance: counts made here, from a lamp, a dark and a gain unlike the twin's, through an NC
  spectrum of ``tests/independent_spectra.py``; the reduced absorbance returns it within the σ
  that Poisson statistics give by hand.
- SAXS: frames made here on a geometry unlike the twin's (Cu Kα, 180 × 200 pixels, beam off
  centre), each pixel's q and solid angle computed by hand from the PONI numbers, I(q) of
  polydisperse spheres from sasmodels (``tests/independent_saxs.py``) evaluated at every pixel.
  pyFAI's integration, the background subtraction with transmission correction and the absolute
  scale must give that I(q) back within its σ, and σ must be the scatter of repeated frames.
- The calibration plans in a real RunEngine: each stores its own run and the detector keeps what
  it measured; ``measure_point`` names their uids and refuses to start without them.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest
from bluesky import RunEngine

from autolab import sim
from autolab.analysis import reduction
from autolab.devices import make_twin_reactor
from autolab.errors import LimitError, ReactorFault
from autolab.plans import measure_point, take_background, take_dark, take_reference
from tests import independent_saxs, independent_spectra

# --- absorbance ---------------------------------------------------------------------------------


def test_absorbance_is_minus_log_of_dark_corrected_ratio():
    # (1100 − 100)/(10100 − 100) = 0.1 → 1 AU; 100/10000 → 2 AU
    assert reduction.absorbance([1100.0, 200.0], [100.0, 100.0], [10100.0, 10100.0]) == pytest.approx([1.0, 2.0])


def test_saturated_and_lightless_pixels_are_nan():
    sample = np.array([5000.0, 65535.0, 90.0, 5000.0])
    dark = np.full(4, 100.0)
    reference = np.array([20000.0, 20000.0, 20000.0, 100.0])
    out = reduction.absorbance(sample, dark, reference, saturated=[False, True, False, False])
    assert out[0] == pytest.approx(-math.log10(4900.0 / 19900.0))
    assert np.isnan(out[1:]).all()  # saturated; no light through the sample; no light in the reference


def test_absorbance_from_counts_returns_the_absorbance_put_in():
    """An independent NC spectrum through a made-up spectrometer: |A − A_true| within 4σ, z unbiased.

    Lamp: a straight line 18 000 → 40 000 counts per scan over the grid; offset 800 counts, dark
    current 20 counts per scan; gain 1 count per electron; read noise 12 counts; 20 scans
    averaged. σ by hand: var(S̄) = (S − offset + read²)/20, the same for R and D.
    """
    case = replace(independent_spectra.CASES["isolated_3.0nm"], noise_au=0.0)
    lam, a_true, _ = independent_spectra.spectrum(case, 0)
    rng = np.random.default_rng(7)
    lamp = np.linspace(18000.0, 40000.0, lam.size)
    offset, dark_e, read, scans = 800.0, 20.0, 12.0, 20

    def acquire(light):
        electrons = rng.poisson(np.broadcast_to(dark_e + light, (scans, lam.size)))
        return (offset + electrons + rng.normal(0.0, read, (scans, lam.size))).mean(axis=0)

    dark, reference, sample = acquire(0.0), acquire(lamp), acquire(lamp * 10.0 ** (-a_true))
    measured = reduction.absorbance(sample, dark, reference)
    s_sig, r_sig = lamp * 10.0 ** (-a_true), lamp
    var = lambda electrons: (electrons + dark_e + read**2) / scans  # noqa: E731 - a formula, named
    var_d = var(0.0)
    sigma = (1 / math.log(10)) * np.sqrt((var(s_sig) + var_d) / s_sig**2 + (var(r_sig) + var_d) / r_sig**2)
    z = (measured - a_true) / sigma
    assert np.abs(z).max() < 4.5
    assert abs(z.mean()) < 0.2
    assert np.std(z) == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1.0, 2.0], [1.0], [1.0, 2.0]), "dark_counts has 1 pixels but sample_counts 2: take them on one spectrometer and axis"),
        (([[1.0]], [1.0], [1.0]), "sample_counts must be a 1-D array of counts per pixel; got shape (1, 1)"),
        ((["a"], [1.0], [1.0]), "sample_counts must be an array of counts; got list"),
        (([np.nan], [1.0], [1.0]), "sample_counts holds no finite count"),
    ],
)
def test_bad_counts_are_one_clear_error(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        reduction.absorbance(*args)


# --- SAXS: a frame made by hand -------------------------------------------------------------------

#: A lab SAXS camera (Cu Kα, λ = 0.15406 nm) with 172 µm pixels at 0.5 m, 180 × 200 pixels, the
#: beam at row 20, column 30: written out by hand, PONI version 2.1.
WAVELENGTH_NM, PIXEL_M, DISTANCE_M, SHAPE, BEAM_PX = 0.15406, 172e-6, 0.5, (180, 200), (20.0, 30.0)
PONI = f"""# written by hand for the test
poni_version: 2.1
Detector: Detector
Detector_config: {{"pixel1": {PIXEL_M}, "pixel2": {PIXEL_M}, "orientation": 3, "max_shape": [{SHAPE[0]}, {SHAPE[1]}]}}
Distance: {DISTANCE_M}
Poni1: {BEAM_PX[0] * PIXEL_M}
Poni2: {BEAM_PX[1] * PIXEL_M}
Rot1: 0
Rot2: 0
Rot3: 0
Wavelength: {WAVELENGTH_NM * 1e-9}
"""


def pixels_by_hand():
    """q (nm⁻¹) and solid angle (sr) of every pixel centre, from the PONI numbers above."""
    rows, cols = np.indices(SHAPE)
    r_m = np.hypot((rows + 0.5 - BEAM_PX[0]) * PIXEL_M, (cols + 0.5 - BEAM_PX[1]) * PIXEL_M)
    two_theta = np.arctan(r_m / DISTANCE_M)
    q = 4 * np.pi / WAVELENGTH_NM * np.sin(two_theta / 2)
    return q, (PIXEL_M / DISTANCE_M) ** 2 * np.cos(two_theta) ** 3


def beamstop():
    rows, cols = np.indices(SHAPE)
    return np.hypot(rows + 0.5 - BEAM_PX[0], cols + 0.5 - BEAM_PX[1]) < 5.0


SPHERES = {"radius_nm": 2.0, "polydispersity": 0.1, "volume_fraction": 2e-3}
Q_LOG = np.geomspace(0.1, 3.0, 120)


def sphere_intensity(q):
    q = np.asarray(q, dtype=float)
    return independent_saxs.spheres(q.ravel(), **SPHERES).reshape(q.shape)


def make_frame(intensity_per_pixel, rng, *, flux, exposure, transmission, thickness_cm=0.1, efficiency=0.8):
    """Poisson counts Φ·t·T·ε·ΔΩ·d·I per pixel; gap rows 100–104 read −1."""
    _, omega = pixels_by_hand()
    counts = rng.poisson(flux * exposure * transmission * efficiency * omega * thickness_cm * intensity_per_pixel)
    counts[100:105] = -1
    return counts


def test_pyfai_q_of_a_pixel_matches_the_hand_computation():
    """pyFAI keeps pixel positions in single precision: agreement to 1e-6 (2e-6 next to the beam), far inside a pixel."""
    q, _ = pixels_by_hand()
    pyfai_q = reduction.q_of_pixels(PONI)
    # pixel (150, 170): 130.5 and 140.5 pixels from the beam, r = 32.98 mm, 2θ = 3.774°, q = 2.6859 nm⁻¹
    r_m = math.hypot(130.5 * PIXEL_M, 140.5 * PIXEL_M)
    assert 4 * math.pi / WAVELENGTH_NM * math.sin(math.atan(r_m / DISTANCE_M) / 2) == pytest.approx(2.6859, abs=1e-4)
    assert pyfai_q[150, 170] == pytest.approx(q[150, 170], rel=1e-6)
    assert np.allclose(pyfai_q, q, rtol=1e-5)


def test_reduced_frame_returns_the_sphere_intensity_within_sigma():
    """Absolute scale: K = 1/ε of the frame's detector gives cm⁻¹; χ²/N ≈ 1 against sasmodels' I(q).

    The frame holds each pixel's I at its centre, which pyFAI spreads over the pixel's extent: on
    a noise-free frame that pixelation moves I by up to 0.15 % where it is steep (1–2 nm⁻¹), 1.2σ
    at 2e11 photons/s. At 2e10 photons/s (σ/I ≈ 0.3 %) it is ≤ 0.4σ, and χ²/N over ten seeds
    was 0.81–1.22.
    """
    q_pixels, _ = pixels_by_hand()
    frame = make_frame(sphere_intensity(q_pixels), np.random.default_rng(11), flux=2e10, exposure=1.0, transmission=0.7)
    out = reduction.integrate_frame(
        frame, PONI, Q_LOG, monitor_photons_s=2e10, exposure_time_s=1.0, transmission=0.7, thickness_cm=0.1,
        calibration_factor=1 / 0.8, mask=beamstop(),
    )
    truth = sphere_intensity(Q_LOG)
    z = (out.intensity - truth) / out.sigma
    # Pixel splitting spreads a pixel over neighbouring log bins below q ≈ 1 nm⁻¹, so neighbours
    # share counts; each bin's σ is still its own (that of the pixels in it).
    assert np.mean(z**2) == pytest.approx(1.0, abs=0.4)
    assert abs(np.mean(z)) < 0.3
    assert np.allclose(out.q_nm_inv, Q_LOG)


def test_calibration_factor_scales_the_result():
    q_pixels, _ = pixels_by_hand()
    frame = make_frame(sphere_intensity(q_pixels), np.random.default_rng(12), flux=2e11, exposure=1.0, transmission=0.7)
    kwargs = {"monitor_photons_s": 2e11, "exposure_time_s": 1.0, "transmission": 0.7, "thickness_cm": 0.1, "mask": beamstop()}
    one = reduction.integrate_frame(frame, PONI, Q_LOG, calibration_factor=1.0, **kwargs)
    # the detector counted 80 % of the photons: without its factor the I(q) is 0.8 × the true one
    assert np.nanmedian(one.intensity / sphere_intensity(Q_LOG)) == pytest.approx(0.8, rel=0.01)


def test_background_subtraction_corrects_each_frame_for_its_own_transmission():
    """Sample (T 0.55, 2 s, 2e10 ph/s) and solvent (T 0.85, 1 s, 3e10 ph/s) frames; the difference is the spheres.

    Normalising the sample with the solvent's transmission instead puts χ²/N above 10⁴.
    """
    q_pixels, _ = pixels_by_hand()
    rng = np.random.default_rng(13)
    solvent_cm_inv, windows = 0.05, 0.3  # windows: per photon and sr, added in both frames (cm⁻¹ × d)

    sample = make_frame(sphere_intensity(q_pixels) + solvent_cm_inv + windows / 0.1, rng, flux=2e10, exposure=2.0, transmission=0.55)
    blank = make_frame(np.full(SHAPE, solvent_cm_inv + windows / 0.1), rng, flux=3e10, exposure=1.0, transmission=0.85)
    common = {"thickness_cm": 0.1, "calibration_factor": 1 / 0.8, "mask": beamstop()}
    background = reduction.integrate_frame(blank, PONI, Q_LOG, monitor_photons_s=3e10, exposure_time_s=1.0, transmission=0.85, **common)
    out = reduction.reduce_frame(
        sample, PONI, Q_LOG, background=background, monitor_photons_s=2e10, exposure_time_s=2.0, transmission=0.55, **common
    )
    z = (out.intensity - sphere_intensity(Q_LOG)) / out.sigma
    assert np.mean(z**2) == pytest.approx(1.0, abs=0.4)
    assert abs(np.mean(z)) < 0.3


@pytest.mark.slow
def test_sigma_is_the_scatter_of_repeated_frames():
    """40 frames of one flat scatterer: pyFAI's Poisson σ per bin = the standard deviation of I over the frames."""
    rng = np.random.default_rng(14)
    kwargs = {"monitor_photons_s": 1e11, "exposure_time_s": 1.0, "transmission": 0.9, "thickness_cm": 0.1, "mask": beamstop()}
    grid = np.linspace(0.2, 3.0, 60)  # linear bins, pyFAI's q_nm^-1 unit
    runs = [
        reduction.integrate_frame(make_frame(np.full(SHAPE, 0.5), rng, flux=1e11, exposure=1.0, transmission=0.9), PONI, grid, **kwargs)
        for _ in range(40)
    ]
    scatter = np.std([r.intensity for r in runs], axis=0, ddof=1)
    sigma = np.mean([r.sigma for r in runs], axis=0)
    # 40 frames: each bin's std within ±11 % (1σ); the median ratio over 60 bins within ±6 %.
    assert np.median(scatter / sigma) == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"transmission": 1.5}, "transmission=1.5 is not allowed: it must be a finite number > 0 and ≤ 1"),
        ({"monitor_photons_s": 0}, "monitor_photons_s=0 is not allowed: it must be a finite number > 0"),
        ({"q_nm_inv": [0.1, 0.2, 0.5, 0.6]}, "q_nm_inv must be evenly spaced in q or in log q (pyFAI's bins); got neither"),
        ({"q_nm_inv": [0.3, 0.2]}, "q_nm_inv must be ≥ 2 increasing positive values, nm⁻¹; got 2 value(s) starting [0.3, 0.2]"),
        ({"counts": np.zeros((10, 10))}, "counts has shape (10, 10) but the PONI geometry's detector is (180, 200)"),
        ({"poni": "/no/such.poni"}, "poni='/no/such.poni' is neither a PONI file nor a PONI text (with a 'Distance:' line)"),
    ],
)
def test_bad_integration_input_is_one_clear_error(change, message):
    kwargs = {
        "counts": np.zeros(SHAPE), "poni": PONI, "q_nm_inv": Q_LOG, "monitor_photons_s": 1e11, "exposure_time_s": 1.0,
        "transmission": 0.9, "thickness_cm": 0.1,
    } | change
    with pytest.raises(ValueError, match=re.escape(message)):
        reduction.integrate_frame(kwargs.pop("counts"), kwargs.pop("poni"), kwargs.pop("q_nm_inv"), **kwargs)


def test_a_poni_file_on_disk_is_read(tmp_path):
    path = tmp_path / "camera.poni"
    path.write_text(PONI)
    assert np.allclose(reduction.q_of_pixels(path), pixels_by_hand()[0], rtol=1e-5)


# --- the twin and the calibration plans -------------------------------------------------------


@pytest.fixture
def RE():
    engine = RunEngine({}, call_returns_result=False)
    docs = []
    engine.subscribe(lambda name, doc: docs.append((name, doc)))
    engine.docs = docs
    return engine


def starts(RE, plan_name):
    return [doc for name, doc in RE.docs if name == "start" and doc["plan_name"] == plan_name]


def test_calibration_plans_store_their_runs_and_measure_point_names_them(RE):
    reactor = make_twin_reactor(seed=5)
    (dark,) = RE(take_dark(reactor.spectrometer))
    (reference,) = RE(take_reference(reactor.spectrometer))
    (background,) = RE(take_background(reactor.saxs))
    assert [reactor.spectrometer.dark_run_uid.get(), reactor.spectrometer.reference_run_uid.get(), reactor.saxs.background_run_uid.get()] == [
        dark, reference, background
    ]
    assert starts(RE, "take_dark")[0]["calibration"] == "dark"
    # the detectors are left ready for samples
    assert reactor.spectrometer.shutter.get() == "open"
    assert reactor.spectrometer.cell_content.get() == "sample"
    assert reactor.saxs.cell_content.get() == "sample"
    RE(measure_point(reactor, 280, 280, 14.0))
    assert starts(RE, "measure_point")[0]["calibration_runs"] == {"dark": dark, "reference": reference, "background": background}


def test_calibration_runs_paused_as_one_closes_resume_without_reading_it_again(RE):
    """A double Ctrl-C can land between a calibration run's close and its detector's unstage. The
    detector is staged inside the run, so the rewind replays nothing of the closed run (bluesky
    raised IllegalMessageSequence on its readings when the stage came first)."""
    import asyncio

    from bluesky import plan_stubs as bps
    from bluesky.utils import RunEngineInterrupted

    reactor = make_twin_reactor(seed=8)
    paused: dict = {}

    def pause_after_the_dark(name, doc):
        if name == "stop" and not paused:
            paused["task"] = asyncio.ensure_future(RE._request_pause_coro(defer=False), loop=RE.loop)

    RE.subscribe(pause_after_the_dark)

    def calibrate():
        yield from bps.checkpoint()  # what a queue's or a campaign's plan has before: the rewind starts here
        yield from take_dark(reactor.spectrometer)
        yield from take_reference(reactor.spectrometer)
        yield from take_background(reactor.saxs)

    with pytest.raises(RunEngineInterrupted):
        RE(calibrate())
    assert RE.state == "paused"
    RE.resume()
    assert [doc["plan_name"] for name, doc in RE.docs if name == "start"] == ["take_dark", "take_reference", "take_background"]
    assert [doc["exit_status"] for name, doc in RE.docs if name == "stop"] == ["success"] * 3
    assert [doc["num_events"] for name, doc in RE.docs if name == "stop"] == [{"primary": 1}] * 3
    assert reactor.spectrometer.shutter.get() == "open"


def test_a_dark_run_holds_the_dark_counts_the_spectrometer_keeps(RE):
    reactor = make_twin_reactor(seed=6)
    RE(take_dark(reactor.spectrometer))
    event = next(doc for name, doc in RE.docs if name == "event")
    kept = reactor.spectrometer.dark_counts.get()
    assert np.array_equal(event["data"]["reactor_spectrometer_counts"], kept)
    # a dark: offset + dark current only, far below the lamp's ≥ 24 000 counts
    assert kept.max() < 2000.0


def test_a_fresh_twin_is_calibrated_without_runs(RE):
    reactor = make_twin_reactor(seed=7)
    RE(measure_point(reactor, 280, 280, 14.0))
    assert starts(RE, "measure_point")[0]["calibration_runs"] == {"dark": None, "reference": None, "background": None}


def test_measure_point_without_a_dark_refuses_before_any_message():
    reactor = make_twin_reactor(seed=8)
    reactor.spectrometer.dark_counts.put(np.zeros(0))
    message = "reactor_spectrometer cannot reduce its data without calibration: run take_dark(reactor.spectrometer) first"
    with pytest.raises(ReactorFault, match=re.escape(message)):
        next(measure_point(reactor, 280, 280, 14.0))


def test_a_dark_taken_at_other_settings_is_refused_until_retaken(RE):
    reactor = make_twin_reactor(seed=12)
    reactor.spectrometer.integration_time_s.put(0.05)
    message = (
        "reactor_spectrometer has its dark at 0.1 s × 10 scans and reference at 0.1 s × 10 scans but integrates"
        " 0.05 s × 10 scans now: run take_dark(reactor.spectrometer) and take_reference(reactor.spectrometer) again"
    )
    with pytest.raises(ReactorFault, match=re.escape(message)):
        next(measure_point(reactor, 280, 280, 14.0))
    RE(take_dark(reactor.spectrometer))
    RE(take_reference(reactor.spectrometer))
    RE(measure_point(reactor, 280, 280, 14.0))
    event = [doc for name, doc in RE.docs if name == "event"][-1]
    assert np.isfinite(event["data"]["reactor_spectrometer_absorbance"]).all()


def test_take_background_of_an_unknown_content_moves_nothing():
    reactor = make_twin_reactor(seed=9)
    with pytest.raises(LimitError, match=re.escape("content='water' is not a background the SAXS cell can hold; allowed: 'solvent', 'empty'")):
        next(take_background(reactor.saxs, content="water"))


def test_a_failed_dark_reopens_the_shutter(RE, monkeypatch):
    reactor = make_twin_reactor(seed=10)

    def broken():
        msg = "spectrometer not responding"
        raise RuntimeError(msg)

    monkeypatch.setattr(reactor.spectrometer, "trigger", broken)
    with pytest.raises(RuntimeError, match="spectrometer not responding"):
        RE(take_dark(reactor.spectrometer))
    assert reactor.spectrometer.shutter.get() == "open"
    assert reactor.spectrometer.dark_run_uid.get() == ""


def test_twin_point_reduces_to_the_flow_cell_absorbance_and_scattering(RE):
    """End to end through raw data: the reduced absorbance is the twin's within its noise, the reduced I(q) the
    twin's minus the solvent (the twin's background is the solvent-filled cell) within σ."""
    reactor = make_twin_reactor(seed=11)
    RE(measure_point(reactor, 280, 280, 14.0))
    event = next(doc for name, doc in RE.docs if name == "event")
    data = event["data"]
    state = reactor.sample_at_flow_cell()
    absorbance = sim.optics.absorbance(state, data["reactor_spectrometer_wavelength_nm"])
    # 10 scans of 100 ms: σ ≈ 1.1e-3 AU where the reference reads ≥ 24 000 counts and the sample is clear
    clear = absorbance < 0.3
    assert np.std(np.asarray(data["reactor_spectrometer_absorbance"])[clear] - absorbance[clear]) < 2e-3
    q = np.asarray(data["reactor_saxs_q_nm_inv"])
    expected = sim.scattering.intensity(state, q) - sim.scattering.DEFAULT_SCATTERING.background_cm_inv
    z = (np.asarray(data["reactor_saxs_intensity"]) - expected) / np.asarray(data["reactor_saxs_intensity_sigma"])
    assert np.mean(z**2) == pytest.approx(1.0, abs=0.5)


def test_a_background_run_stores_its_frame_and_a_point_only_when_asked(RE):
    reactor = make_twin_reactor(seed=13)
    RE(take_background(reactor.saxs))
    RE(measure_point(reactor, 280, 280, 14.0))
    background_event, point_event = (doc for name, doc in RE.docs if name == "event")
    frame = np.asarray(background_event["data"]["reactor_saxs_image"])
    assert frame.shape == sim.detector_raw.DEFAULT_GEOMETRY.shape
    assert frame.min() == sim.detector_raw.GAP_VALUE
    assert "reactor_saxs_image" not in point_event["data"]
    reactor.saxs.image.kind = "normal"
    RE(measure_point(reactor, 280, 280, 14.0))
    last = [doc for name, doc in RE.docs if name == "event"][-1]
    assert np.asarray(last["data"]["reactor_saxs_image"]).shape == sim.detector_raw.DEFAULT_GEOMETRY.shape


def test_a_frame_that_cannot_be_written_fails_the_point_with_its_reason(RE, tmp_path):
    """Nothing measured is lost silently: the acquisition fails, naming the file, and the run is a failed one."""
    from bluesky.utils import FailedStatus

    reactor = make_twin_reactor(seed=13)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the frame folder should be")
    reactor.saxs.store_frames_in(blocker)
    reactor.saxs.image.kind = "normal"
    with pytest.raises(FailedStatus) as failed:
        RE(measure_point(reactor, 280, 280, 14.0))
    reason = failed.value.args[0].exception()  # what a campaign records for the failed point
    assert isinstance(reason, ReactorFault)
    assert re.fullmatch(r"reactor_saxs: cannot write frame 0 to .*/not-a-folder/\d{4}-\d{2}-\d{2}/.*\.h5: .*; the frame is not stored", str(reason))
    stop = next(doc for name, doc in RE.docs if name == "stop")
    assert stop["exit_status"] == "fail"
    assert not [name for name, _ in RE.docs if name in ("event", "stream_datum")]


def test_stored_frames_go_to_one_file_per_run_and_their_documents_name_it(RE, tmp_path):
    reactor = make_twin_reactor(seed=13)
    reactor.saxs.store_frames_in(tmp_path / "frames")
    RE(take_background(reactor.saxs))
    background = reactor.saxs.image.get().copy()
    RE(measure_point(reactor, 280, 280, 14.0))  # a point keeps its frame only when asked
    docs = RE.docs
    names = [name for name, _ in docs]
    assert names.count("stream_resource") == names.count("stream_datum") == 1
    descriptor = next(doc for name, doc in docs if name == "descriptor")
    assert descriptor["data_keys"]["reactor_saxs_image"]["external"] == "STREAM:"
    assert descriptor["data_keys"]["reactor_saxs_image"]["shape"] == [256, 240]
    resource = next(doc for name, doc in docs if name == "stream_resource")
    datum = next(doc for name, doc in docs if name == "stream_datum")
    assert resource["data_key"] == "reactor_saxs_image"
    assert datum["indices"] == {"start": 0, "stop": 1}
    import h5py

    with h5py.File(resource["uri"].removeprefix("file://localhost"), "r") as handle:
        dataset = handle[resource["parameters"]["dataset"]]
        np.testing.assert_array_equal(dataset[()], background[np.newaxis])
        assert (dataset.compression, dataset.shuffle) == ("gzip", True)  # HDF5's built-in filters: any reader opens it
        assert dataset.id.get_storage_size() < background.nbytes / 3
    assert "reactor_saxs_image" not in next(doc for name, doc in docs if name == "event")["data"]
