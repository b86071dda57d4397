"""Reduction of raw detector data to what the analysis reads: absorbance and absolute I(q).

- **UV-Vis** (:func:`absorbance`): A = −log10((S − D)/(R − D)) from the sample counts S, the dark
  D (lamp shutter closed) and the reference R (solvent-filled cell), in one step. Pixels that
  saturated in S or R, and pixels without light above the dark (S − D ≤ 0 or R − D ≤ 0), are NaN:
  the absorbance there is not measured.
- **SAXS** (:func:`integrate_frame`, :func:`subtract_background`, :func:`reduce_frame`): azimuthal
  integration with pyFAI from a PONI geometry, each frame normalised by its monitor (photons/s),
  exposure, transmission, sample thickness and the pixel's solid angle, put on the absolute scale
  by a stored calibration factor, the background frame's I(q) subtracted; σ(q) from pyFAI's
  Poisson error model, added in quadrature through the subtraction.

With counts C, monitor Φ, exposure t, transmission T, thickness d, the solid angle Ω₀ = p²/D² of a
pixel at the point of normal incidence and pyFAI's relative solid angle cos³2θ, the calibration
factor K gives

    I(q) = K · ΣC / Σ(Φ·t·T·d·Ω₀·cos³2θ)  −  (the same for the background frame)

over the pixels of each q bin (pyFAI's ``normalization_factor`` is Φ·t·T·d·Ω₀/K). The
calibration factor is what a primary standard (glassy carbon, water) gives: its known I(q) over
the I(q) measured with K = 1; for a perfect detector it is 1, for one that counts a fraction ε of
the photons 1/ε.

pyFAI is imported on first use (a second or two), not with this module.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Relative tolerance for a q axis to count as evenly spaced (in q or in log q).
SPACING_RTOL = 1e-6


@dataclass(frozen=True)
class ReducedSAXS:
    """An azimuthally integrated pattern on its q axis: I(q) and σ(q) in cm⁻¹ (NaN where no pixel falls)."""

    q_nm_inv: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray


def absorbance(sample_counts, dark_counts, reference_counts, *, saturated=None) -> np.ndarray:
    """Absorbance −log10((S − D)/(R − D)) per pixel; NaN where it is not measured.

    Parameters
    ----------
    sample_counts, dark_counts, reference_counts : array_like
        Counts per pixel of the sample (S), the dark (D, shutter closed) and the reference (R,
        solvent-filled cell), each at the same integration time and number of scans.
    saturated : array_like of bool, optional
        Pixels that reached the detector's full scale in S or R (the raw data's flags).

    Returns
    -------
    ndarray
        Absorbance, AU; NaN on saturated pixels and where S − D ≤ 0 or R − D ≤ 0.

    Raises
    ------
    ValueError
        If an input is not a 1-D array of the sample's length, or holds no finite number.

    Examples
    --------
    >>> absorbance([1100.0, 200.0], [100.0, 100.0], [10100.0, 10100.0])
    array([1., 2.])
    """
    s = _pixels("sample_counts", sample_counts)
    d = _pixels("dark_counts", dark_counts, size=s.size)
    r = _pixels("reference_counts", reference_counts, size=s.size)
    bad = np.zeros(s.shape, dtype=bool)
    if saturated is not None:
        flags = np.asarray(saturated)
        if flags.shape != s.shape:
            msg = f"saturated has shape {flags.shape} but sample_counts {s.shape}: they must match"
            raise ValueError(msg)
        bad |= flags.astype(bool)
    signal, light = s - d, r - d
    bad |= ~(signal > 0) | ~(light > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log10(signal / light)
    out[bad] = np.nan
    return out


def integrate_frame(
    counts,
    poni: str | Path,
    q_nm_inv,
    *,
    monitor_photons_s: float,
    exposure_time_s: float,
    transmission: float,
    thickness_cm: float,
    calibration_factor: float = 1.0,
    mask=None,
) -> ReducedSAXS:
    """Azimuthally integrate one frame onto ``q_nm_inv`` with pyFAI, in absolute units (cm⁻¹).

    Parameters
    ----------
    counts : array_like, 2-D
        The frame, counts; negative pixels (a detector's gaps) are masked.
    poni : str or path
        The geometry: a PONI file's path, or its text (a string holding ``Distance:``).
    q_nm_inv : array_like
        Bin centres, nm⁻¹, evenly spaced in q or in log q (the bins are pyFAI's ``q_nm^-1`` or
        ``log(q.nm)`` units).
    monitor_photons_s, exposure_time_s, transmission, thickness_cm : float
        The incident flux (photons/s), the exposure (s), the cell's transmission (0–1) and the
        sample thickness (cm) of this frame.
    calibration_factor : float
        Absolute-scale factor K (see the module's notes).
    mask : array_like of bool, optional
        Pixels to leave out (True), e.g. the beamstop's shadow.

    Returns
    -------
    ReducedSAXS
        I(q) and σ(q) (pyFAI's ``error_model="poisson"``) in cm⁻¹ on ``q_nm_inv``.

    Raises
    ------
    ValueError
        Naming the argument, its value and what is allowed.
    """
    frame = np.asarray(counts)
    if frame.ndim != 2:
        msg = f"counts has {frame.ndim} dimension(s): a frame has 2 (rows, columns)"
        raise ValueError(msg)
    normalisation = {
        "monitor_photons_s": (monitor_photons_s, 0.0, math.inf),
        "exposure_time_s": (exposure_time_s, 0.0, math.inf),
        "transmission": (transmission, 0.0, 1.0),
        "thickness_cm": (thickness_cm, 0.0, math.inf),
        "calibration_factor": (calibration_factor, 0.0, math.inf),
    }
    values = {name: _positive(name, value, high) for name, (value, _, high) in normalisation.items()}
    integrator = _integrator(_poni_text(poni))
    shape = tuple(integrator.detector.max_shape or frame.shape)
    if frame.shape != shape:
        msg = f"counts has shape {frame.shape} but the PONI geometry's detector is {shape}"
        raise ValueError(msg)
    unit, radial_range, grid = _bins(q_nm_inv)
    full_mask = frame < 0
    if mask is not None:
        given = np.asarray(mask, dtype=bool)
        if given.shape != frame.shape:
            msg = f"mask has shape {given.shape} but counts {frame.shape}: they must match"
            raise ValueError(msg)
        full_mask = full_mask | given
    pixel_sr = integrator.detector.pixel1 * integrator.detector.pixel2 / integrator.dist**2
    factor = (
        values["monitor_photons_s"] * values["exposure_time_s"] * values["transmission"] * values["thickness_cm"] * pixel_sr
    ) / values["calibration_factor"]
    result = integrator.integrate1d(
        np.where(full_mask, 0, frame).astype(np.float64),
        grid.size,
        unit=unit,
        radial_range=radial_range,
        mask=full_mask,
        correctSolidAngle=True,
        error_model="poisson",
        normalization_factor=factor,
        method=("bbox", "csr", "cython"),
    )
    empty = ~(np.asarray(result.sum_normalization) > 0)
    intensity = np.where(empty, np.nan, result.intensity)
    sigma = np.where(empty, np.nan, result.sigma)
    return ReducedSAXS(grid, intensity, sigma)


def subtract_background(sample: ReducedSAXS, background: ReducedSAXS) -> ReducedSAXS:
    """I_sample − I_background on their common q axis; σ added in quadrature.

    Both must already be normalised by their own monitor, exposure and transmission
    (:func:`integrate_frame`): that is the transmission correction.

    Raises
    ------
    ValueError
        If the two q axes differ.
    """
    if sample.q_nm_inv.shape != background.q_nm_inv.shape or not np.allclose(sample.q_nm_inv, background.q_nm_inv, rtol=1e-9):
        msg = (
            f"the background's q axis ({background.q_nm_inv.size} points) is not the sample's ({sample.q_nm_inv.size} points):"
            " integrate both onto one axis"
        )
        raise ValueError(msg)
    return ReducedSAXS(sample.q_nm_inv, sample.intensity - background.intensity, np.hypot(sample.sigma, background.sigma))


def reduce_frame(counts, poni, q_nm_inv, *, background: ReducedSAXS | None = None, **normalisation) -> ReducedSAXS:
    """:func:`integrate_frame`, then :func:`subtract_background` when ``background`` is given.

    ``normalisation`` holds :func:`integrate_frame`'s keyword arguments (monitor, exposure,
    transmission, thickness, calibration factor, mask).
    """
    sample = integrate_frame(counts, poni, q_nm_inv, **normalisation)
    return sample if background is None else subtract_background(sample, background)


def q_of_pixels(poni: str | Path) -> np.ndarray:
    """q (nm⁻¹) of every pixel centre of the PONI geometry's detector, as pyFAI computes it."""
    return np.asarray(_integrator(_poni_text(poni)).qArray(), dtype=float)


# --- helpers ---------------------------------------------------------------------------------


def _pixels(name: str, values, *, size: int | None = None) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        msg = f"{name} must be an array of counts; got {type(values).__name__}"
        raise ValueError(msg) from None
    if array.ndim != 1 or array.size == 0:
        msg = f"{name} must be a 1-D array of counts per pixel; got shape {array.shape}"
        raise ValueError(msg)
    if size is not None and array.size != size:
        msg = f"{name} has {array.size} pixels but sample_counts {size}: take them on one spectrometer and axis"
        raise ValueError(msg)
    if not np.isfinite(array).any():
        msg = f"{name} holds no finite count"
        raise ValueError(msg)
    return array


def _positive(name: str, value, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and 0.0 < number <= high):
        allowed = "> 0 and ≤ 1" if high == 1.0 else "> 0"
        msg = f"{name}={value!r} is not allowed: it must be a finite number {allowed}"
        raise ValueError(msg)
    return number


def _bins(q_nm_inv) -> tuple[str, tuple[float, float], np.ndarray]:
    """pyFAI unit, radial range and the grid for bin centres ``q_nm_inv`` (even in q or in log q)."""
    grid = np.array(q_nm_inv, dtype=float)
    unit, radial_range = _bins_of(grid.tobytes(), grid.shape)
    return unit, radial_range, grid


@lru_cache(maxsize=16)
def _bins_of(data: bytes, shape: tuple[int, ...]) -> tuple[str, tuple[float, float]]:
    grid = np.frombuffer(data).reshape(shape)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)) or grid[0] <= 0 or np.any(np.diff(grid) <= 0):
        msg = f"q_nm_inv must be ≥ 2 increasing positive values, nm⁻¹; got {grid.size} value(s) starting {grid[:3].tolist()}"
        raise ValueError(msg)
    for unit, transform in (("q_nm^-1", lambda x: x), ("log(q.nm)_None", np.log)):
        x = transform(grid)
        step = (x[-1] - x[0]) / (x.size - 1)
        if np.max(np.abs(np.diff(x) - step)) <= SPACING_RTOL * abs(step):
            return unit, (float(x[0] - step / 2), float(x[-1] + step / 2))
    msg = "q_nm_inv must be evenly spaced in q or in log q (pyFAI's bins); got neither"
    raise ValueError(msg)


def _poni_text(poni: str | Path) -> str:
    if isinstance(poni, Path) or (isinstance(poni, str) and "Distance" not in poni and "distance" not in poni):
        path = Path(poni)
        if not path.is_file():
            msg = f"poni={str(poni)!r} is neither a PONI file nor a PONI text (with a 'Distance:' line)"
            raise ValueError(msg)
        return path.read_text()
    return str(poni)


def check_poni(poni_text: str) -> None:
    """Raise :class:`ValueError` saying what pyFAI cannot read in ``poni_text`` (a PONI file's text)."""
    _integrator(str(poni_text))


@lru_cache(maxsize=8)
def _integrator(poni_text: str):
    """A pyFAI AzimuthalIntegrator for ``poni_text`` (cached: pyFAI keeps its CSR matrices in it)."""
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    from pyFAI.io.ponifile import PoniFile

    logging.getLogger("pyFAI.geometry.core").addFilter(_NoFastPathFilter())
    config = {}
    for line in poni_text.splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            key, value = line.split(":", 1)
            config[key.strip().lower()] = value.strip()
    detector = config.get("detector")
    if detector and not _known_detector(detector):  # pyFAI would log and raise a list of every detector it knows
        msg = (f"the PONI geometry cannot be read: Detector {detector!r} is neither a detector pyFAI knows (e.g. Pilatus1M, "
               "Eiger4M) nor a detector file")
        raise ValueError(msg)
    try:
        poni = PoniFile(config)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: an unknown Detector (pyFAI lists them all)
        msg = f"the PONI geometry cannot be read: {_first_sentence(exc)}"
        raise ValueError(msg) from None
    if not all(value is not None and math.isfinite(value) and value > 0 for value in (poni.dist, poni.wavelength)):
        msg = f"the PONI geometry needs a Distance > 0 and a Wavelength > 0 (m); got Distance={poni.dist!r}, Wavelength={poni.wavelength!r}"
        raise ValueError(msg)
    return AzimuthalIntegrator.sload(poni)


def _known_detector(name: str) -> bool:
    """Whether pyFAI's ``Detector.factory`` takes ``name``: a file, a class of ``pyFAI.detectors``, or a registered name."""
    import os

    import pyFAI.detectors

    if os.path.isfile(name):
        return True
    cls = getattr(pyFAI.detectors, name, None)
    if isinstance(cls, type) and issubclass(cls, pyFAI.detectors.Detector):
        return True
    return any(key in pyFAI.detectors.ALL_DETECTORS for key in (name.lower(), name.lower().replace(" ", "_")))


def _first_sentence(exc: BaseException, limit: int = 200) -> str:
    """An exception's message cut at its first sentence or ``limit`` characters (pyFAI's unknown-detector error lists hundreds)."""
    text = " ".join(str(exc).split())
    head = text.split(". ")[0]
    return head if len(head) <= limit else head[:limit] + " …"


class _NoFastPathFilter(logging.Filter):
    """pyFAI warns that ``log(q.nm)`` has no compiled fast path; it falls back to numpy, correctly."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("No fast path for space")
