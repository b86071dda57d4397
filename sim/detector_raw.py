"""Raw data of the twin's detectors: spectrometer counts and 2D SAXS frames (numpy only).

The twin's physics gives an absorbance spectrum and an I(q) (:mod:`autolab.sim.optics`,
:mod:`autolab.sim.scattering`); an instrument gives neither. It gives

- a **UV-Vis spectrometer** (:class:`SpectrometerModel`): counts on a linear CCD, per pixel
  ``dark offset + dark current·t + gain·Poisson(electrons from the lamp through the cell)`` plus
  read noise, averaged over ``scans`` scans of ``t`` each, clipped at the 16-bit ADC's full scale
  (the pixel is then flagged saturated); the light is a deuterium-halogen lamp
  (:func:`lamp_counts_per_s`) attenuated by ``10**-A`` of what fills the cell;
- a **SAXS pixel detector** (:class:`SAXSGeometry`, :class:`SAXSBeam`): a photon-counting frame,
  per pixel ``Poisson(Φ·t·T·ε·ΔΩ·(d·I(q) + I_cell(q)))`` with ``q`` and ``ΔΩ`` from the PONI
  geometry (distance, pixel size, wavelength, beam centre), the beamstop's shadow and the gaps
  between detector modules masked (they read −1, as a PILATUS does).

The reduction back to absorbance and I(q) is :mod:`autolab.analysis.reduction`; it knows this
module's geometry only through the PONI text (:meth:`SAXSGeometry.poni_text`) and the beam
readings, as it would know a real instrument's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np


def _in_range(name: str, value, low: float, high: float, unit: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and low <= number <= high):
        unit_text = f" {unit}" if unit else ""
        msg = f"{name}={value!r} is outside the allowed range {low:g}–{high:g}{unit_text}"
        raise ValueError(msg)
    return number


# --------------------------------------------------------------------------------------------
# UV-Vis spectrometer
# --------------------------------------------------------------------------------------------

#: Planck's second radiation constant hc/k, nm·K.
PLANCK_C2_NM_K = 1.438777e7
#: Balmer lines of deuterium a D2 lamp shows on its continuum, nm: Dα 656.1, Dβ 486.0
#: (Ocean Optics DH-2000 manual; the "-BAL" lamps filter Dα down).
DEUTERIUM_LINES_NM = (656.1, 486.0)


@dataclass(frozen=True)
class SpectrometerModel:
    """A fibre-coupled CCD spectrometer with a deuterium-halogen lamp, as the twin's raw counts.

    The detector numbers are those of an Ocean Optics USB4000 / Flame-T class instrument
    (Toshiba TCD1304 CCD; USB4000 datasheet: 16-bit A/D, dark noise 50 counts RMS, SNR 300:1 at
    full signal, integration 3.8 ms–10 s). The gain follows from the datasheet's SNR:
    (65535/300)² = gain·65535 + 50² gives ≈ 0.69 counts per photoelectron. The dark offset and
    dark current are not on the datasheet: they are typical of an uncooled CCD (assumption).
    The lamp is Ocean Optics' DH-2000: a deuterium continuum falling from the UV to ≈ 400 nm, a
    tungsten-halogen bulb (2960 K colour temperature, HL-2000 datasheet) taking over above it,
    the Balmer lines Dα and Dβ on top, all seen through the grating's and the CCD's response.
    """

    saturation_counts: float = 65535.0
    """Full scale of the 16-bit A/D, counts: a pixel at it is clipped and flagged."""
    dark_offset_counts: float = 1500.0
    """Electronic offset of the CCD read-out, counts (assumption)."""
    dark_current_counts_per_s: float = 300.0
    """Thermal dark current, counts/s (assumption for an uncooled CCD at room temperature)."""
    read_noise_counts: float = 50.0
    """Dark noise, counts RMS per scan (USB4000 datasheet)."""
    counts_per_electron: float = 0.69
    """Conversion gain, counts per photoelectron (from the datasheet's SNR, see the class docs)."""
    lamp_counts_per_s: float = 6.0e5
    """Photoelectrons/s at the continuum's maximum over 250–800 nm through a solvent-filled cell.
    At the default 100 ms the reference then reads 24 000–43 000 counts over 300–700 nm and
    ≈ 51 000 (78 % of full scale) on Dα: the level an operator sets the integration time for."""
    halogen_temperature_k: float = 2960.0
    """Colour temperature of the halogen bulb, K (HL-2000 datasheet)."""
    deuterium_share: float = 1.2
    """Deuterium continuum at 300 nm over the halogen's at 700 nm, before the spectrometer's response (assumption)."""
    deuterium_decay_nm: float = 120.0
    """e-folding length of the deuterium continuum's fall towards the visible, nm (assumption)."""
    line_heights: tuple[float, float] = (0.25, 0.08)
    """Heights of Dα and Dβ over the continuum's maximum (a balanced lamp; assumption)."""
    line_fwhm_nm: float = 1.5
    """Width of the Balmer lines as the spectrometer sees them: its optical resolution, nm."""
    response_center_nm: float = 550.0
    response_width_nm: float = 250.0
    """Gaussian grating × CCD response: centre and standard deviation, nm (assumption)."""


DEFAULT_SPECTROMETER = SpectrometerModel()
#: Allowed integration time per scan, s (USB4000: 3.8 ms–10 s; the twin allows 1 ms–65 s, the Flame's range).
INTEGRATION_RANGE_S = (1e-3, 65.0)
#: Allowed scans to average.
SCANS_RANGE = (1, 1000)


def lamp_counts_per_s(wavelength_nm, model: SpectrometerModel = DEFAULT_SPECTROMETER) -> np.ndarray:
    """Photoelectron rate (counts/s) of the lamp through a solvent-filled cell, per pixel.

    The continuum (deuterium + halogen, through the spectrometer's response) is scaled so that its
    maximum over 250–800 nm is ``model.lamp_counts_per_s``; the Balmer lines sit on top.
    """
    lam = np.asarray(wavelength_nm, dtype=float)
    return model.lamp_counts_per_s * _lamp_shape(lam, model)


def _lamp_shape(lam: np.ndarray, model: SpectrometerModel) -> np.ndarray:
    def continuum(x):
        planck = 1.0 / (x**5 * np.expm1(PLANCK_C2_NM_K / (x * model.halogen_temperature_k)))
        planck_700 = 1.0 / (700.0**5 * math.expm1(PLANCK_C2_NM_K / (700.0 * model.halogen_temperature_k)))
        deuterium = model.deuterium_share * np.exp(-(x - 300.0) / model.deuterium_decay_nm)
        response = np.exp(-0.5 * ((x - model.response_center_nm) / model.response_width_nm) ** 2)
        return (planck / planck_700 + deuterium) * response

    top = continuum(np.linspace(250.0, 800.0, 1101)).max()
    shape = continuum(lam) / top
    sigma = model.line_fwhm_nm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    for centre, height in zip(DEUTERIUM_LINES_NM, model.line_heights, strict=True):
        shape = shape + height * np.exp(-0.5 * ((lam - centre) / sigma) ** 2)
    return shape


@dataclass(frozen=True)
class RawSpectrum:
    """One acquisition: counts per pixel (mean over the scans) and the pixels that saturated."""

    counts: np.ndarray
    saturated: np.ndarray
    integration_time_s: float
    scans: int


def expected_counts(
    wavelength_nm,
    absorbance=None,
    *,
    integration_time_s: float,
    light: bool = True,
    model: SpectrometerModel = DEFAULT_SPECTROMETER,
) -> np.ndarray:
    """Mean counts per pixel of one scan, before noise and clipping.

    ``absorbance`` (AU, per pixel) is that of the cell's content against the solvent-filled cell
    (None: the solvent-filled cell itself, the reference); ``light=False`` is the lamp's shutter
    closed (a dark).
    """
    lam = np.asarray(wavelength_nm, dtype=float)
    dark = model.dark_offset_counts + model.dark_current_counts_per_s * integration_time_s
    if not light:
        return np.full(lam.shape, dark)
    transmitted = 1.0 if absorbance is None else 10.0 ** (-np.asarray(absorbance, dtype=float))
    return dark + model.counts_per_electron * lamp_counts_per_s(lam, model) * integration_time_s * transmitted


def check_spectrometer_settings(integration_time_s, scans) -> tuple[float, int]:
    """Return ``(integration_time_s, scans)`` if both are in range, else raise ValueError naming the one that is not."""
    integration = _in_range("integration_time_s", integration_time_s, *INTEGRATION_RANGE_S, "s")
    return integration, int(_in_range("scans_to_average", scans, *SCANS_RANGE, ""))


def acquire_spectrum(
    wavelength_nm,
    absorbance,
    rng: np.random.Generator,
    *,
    integration_time_s: float = 0.1,
    scans: int = 1,
    light: bool = True,
    model: SpectrometerModel = DEFAULT_SPECTROMETER,
) -> RawSpectrum:
    """Raw counts of ``scans`` scans of ``integration_time_s`` each, averaged, with saturated pixels flagged.

    Each scan: Poisson photoelectrons (and dark electrons) × the gain, plus Gaussian read noise,
    rounded to whole counts and clipped to 0…``saturation_counts``. A pixel that reached full scale
    in any scan is flagged in ``saturated``: its average no longer measures the light.

    Raises
    ------
    ValueError
        If ``integration_time_s`` or ``scans`` (``scans_to_average``) is outside its range (:data:`INTEGRATION_RANGE_S`,
        :data:`SCANS_RANGE`).
    """
    integration_time_s, scans = check_spectrometer_settings(integration_time_s, scans)
    lam = np.asarray(wavelength_nm, dtype=float)
    mean = expected_counts(lam, absorbance, integration_time_s=integration_time_s, light=light, model=model)
    offset = model.dark_offset_counts
    electrons = (mean - offset) / model.counts_per_electron
    raw = offset + model.counts_per_electron * rng.poisson(np.clip(electrons, 0.0, None), size=(scans, lam.size))
    raw = np.rint(raw + rng.normal(0.0, model.read_noise_counts, size=raw.shape))
    clipped = np.clip(raw, 0.0, model.saturation_counts)
    saturated = (clipped >= model.saturation_counts).any(axis=0)
    return RawSpectrum(clipped.mean(axis=0), saturated, integration_time_s, scans)


# --------------------------------------------------------------------------------------------
# SAXS pixel detector
# --------------------------------------------------------------------------------------------

#: Value a masked pixel (a gap between modules) reads in a frame, as on a PILATUS.
GAP_VALUE = -1
#: Counter depth of a PILATUS3 pixel: 20 bits.
PIXEL_FULL_SCALE = 2**20 - 1


@dataclass(frozen=True)
class SAXSGeometry:
    """A PILATUS-like pixel detector and its PONI geometry (pyFAI's convention, no tilt).

    The default is a 256 × 240 (rows × columns) window of 172 µm pixels (PILATUS3 pixel size; DECTRIS datasheet)
    at 0.60 m from the sample, 12.4 keV (λ = 0.1 nm), the direct beam 25 pixels in from one
    corner so that one frame spans q = 0.1–5 nm⁻¹ (5.7 nm⁻¹ in the far corner): q = 0.1 nm⁻¹ lies
    5.6 pixels from the beam, just outside a beamstop of 4 pixels' radius (1.4 mm across) held by
    an arm to the frame's edge. PILATUS modules are 487 × 195 pixels with gaps of 7 (between
    columns of modules) and 17 pixels (between rows) (DECTRIS PILATUS3 technical specification):
    the window holds one row gap, masked.

    ``poni1``/``poni2`` (the point of normal incidence, m from the detector's first pixel corner
    along rows and columns) place the beam; pixel (i, j)'s centre is at ((i+½)·p, (j+½)·p).
    """

    shape: tuple[int, int] = (256, 240)
    """Rows × columns. Not square: a catalog names an array's dimensions by their sizes, and a
    square frame's two would share one name."""
    pixel_size_m: float = 172e-6
    distance_m: float = 0.60
    wavelength_m: float = 1.0e-10
    beam_center_px: tuple[float, float] = (25.0, 25.0)
    """Direct beam (row, column), in pixel units from the first pixel's corner (= poni / pixel size)."""
    beamstop_radius_px: float = 4.0
    beamstop_arm_width_px: float = 3.0
    """The beamstop's holder runs from the beamstop to the frame's column 0, this wide."""
    module_shape_px: tuple[int, int] = (195, 487)
    module_gap_px: tuple[int, int] = (17, 7)

    def __post_init__(self):
        checks = (
            ("distance_m", self.distance_m, 0.05, 20.0, "m"),
            ("pixel_size_m", self.pixel_size_m, 1e-6, 1e-3, "m"),
            ("wavelength_m", self.wavelength_m, 1e-11, 1e-9, "m"),
        )
        for name, value, low, high, unit in checks:
            _in_range(name, value, low, high, unit)
        rows, cols = self.shape
        if not (8 <= rows <= 4096 and 8 <= cols <= 4096):
            msg = f"shape={self.shape!r} is outside the allowed detector size 8–4096 pixels a side"
            raise ValueError(msg)

    @property
    def poni_m(self) -> tuple[float, float]:
        """PONI (poni1, poni2), m."""
        return self.beam_center_px[0] * self.pixel_size_m, self.beam_center_px[1] * self.pixel_size_m

    def poni_text(self) -> str:
        """The geometry as a pyFAI PONI file (version 2.1), text."""
        poni1, poni2 = self.poni_m
        config = {"pixel1": self.pixel_size_m, "pixel2": self.pixel_size_m, "orientation": 3, "max_shape": list(self.shape)}
        return (
            "# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis\n"
            "poni_version: 2.1\n"
            "Detector: Detector\n"
            f"Detector_config: {json.dumps(config)}\n"
            f"Distance: {self.distance_m!r}\n"
            f"Poni1: {poni1!r}\n"
            f"Poni2: {poni2!r}\n"
            "Rot1: 0.0\nRot2: 0.0\nRot3: 0.0\n"
            f"Wavelength: {self.wavelength_m!r}\n"
        )

    def _radius_m(self) -> np.ndarray:
        rows, cols = self.shape
        y = (np.arange(rows) + 0.5) * self.pixel_size_m - self.poni_m[0]
        x = (np.arange(cols) + 0.5) * self.pixel_size_m - self.poni_m[1]
        return np.hypot(y[:, None], x[None, :])

    def two_theta_rad(self) -> np.ndarray:
        """Scattering angle 2θ of each pixel's centre, rad."""
        return np.arctan2(self._radius_m(), self.distance_m)

    def q_nm_inv(self) -> np.ndarray:
        """q = 4π sin(θ)/λ of each pixel's centre, nm⁻¹."""
        return 4.0 * np.pi / (self.wavelength_m * 1e9) * np.sin(self.two_theta_rad() / 2.0)

    def solid_angle_sr(self) -> np.ndarray:
        """Solid angle of each pixel, sr: p²/D²·cos³(2θ) (flat detector, normal incidence at the PONI)."""
        return (self.pixel_size_m / self.distance_m) ** 2 * np.cos(self.two_theta_rad()) ** 3

    def gap_mask(self) -> np.ndarray:
        """True on the pixels between modules (no sensor: they read :data:`GAP_VALUE`)."""
        rows, cols = self.shape
        (mod_r, mod_c), (gap_r, gap_c) = self.module_shape_px, self.module_gap_px
        row_gap = (np.arange(rows) % (mod_r + gap_r)) >= mod_r
        col_gap = (np.arange(cols) % (mod_c + gap_c)) >= mod_c
        return row_gap[:, None] | col_gap[None, :]

    def beamstop_mask(self) -> np.ndarray:
        """True in the beamstop's and its arm's shadow."""
        rows, cols = self.shape
        r0, c0 = self.beam_center_px
        y = np.arange(rows)[:, None] + 0.5 - r0
        x = np.arange(cols)[None, :] + 0.5 - c0
        disc = np.hypot(y, x) <= self.beamstop_radius_px
        arm = (np.abs(y) <= self.beamstop_arm_width_px / 2.0) & (x <= 0.0)
        return disc | arm

    def mask(self) -> np.ndarray:
        """Pixels the reduction leaves out: module gaps and the beamstop's shadow (True = masked)."""
        return self.gap_mask() | self.beamstop_mask()


DEFAULT_GEOMETRY = SAXSGeometry()


@dataclass(frozen=True)
class SAXSBeam:
    """The beam, the flow cell and the detector's efficiency: what turns I(q) into counts.

    Numbers of the order of a synchrotron SAXS beamline at 12.4 keV: 1e12 photons/s on the sample
    (e.g. ESRF ID02 and SOLEIL SWING quote 1e12–1e13 photons/s); a 1 mm flow cell of alkane
    between two 25 µm Kapton windows. Transmissions from the mass attenuation coefficients of
    NIST XCOM at 12.4 keV: a hydrocarbon (≈ polyethylene, ≈ 1.3 cm² g⁻¹ × 0.78 g cm⁻³ ≈ 1.0 cm⁻¹)
    passes e^(−0.1) = 0.905 of the beam through 1 mm, the two Kapton windows (≈ 1.9 cm² g⁻¹ ×
    1.42 g cm⁻³ × 50 µm) 0.987. A 450 µm silicon sensor absorbs ≈ 85 % of 12.4 keV photons
    (DECTRIS PILATUS3 quantum efficiency curve). The windows' own scattering (Kapton: a
    power law at low q on a flat level) is an assumption.
    """

    flux_photons_s: float = 1e12
    thickness_cm: float = 0.1
    solvent_attenuation_cm_inv: float = 1.0
    window_transmission: float = 0.987
    efficiency: float = 0.85
    window_scattering_flat: float = 2e-4
    """Scattering of the two windows per unit solid angle and incident photon (cm⁻¹·cm), flat part."""
    window_scattering_q1: float = 1e-5
    """… and the coefficient of its q⁻³ part at 1 nm⁻¹."""

    def transmission(self, content: str) -> float:
        """Transmission of the cell filled with ``content`` ("sample" or "solvent" alike, or "empty")."""
        if content == "empty":
            return self.window_transmission
        return self.window_transmission * math.exp(-self.solvent_attenuation_cm_inv * self.thickness_cm)

    def window_scattering(self, q_nm_inv) -> np.ndarray:
        """The two windows' scattering per incident photon and sr at ``q_nm_inv`` (cm⁻¹·cm)."""
        q = np.asarray(q_nm_inv, dtype=float)
        return self.window_scattering_flat + self.window_scattering_q1 * np.clip(q, 0.05, None) ** -3


DEFAULT_BEAM = SAXSBeam()
#: Allowed exposure of one frame, s.
EXPOSURE_RANGE_S = (1e-4, 3600.0)


@dataclass(frozen=True)
class RawFrame:
    """One SAXS frame: counts (int32; module gaps read :data:`GAP_VALUE`) and its beam readings."""

    counts: np.ndarray
    exposure_time_s: float
    monitor_photons_s: float
    transmission: float
    content: str = "sample"
    extra: dict = field(default_factory=dict)


def check_exposure(exposure_time_s) -> float:
    """Return ``exposure_time_s`` if in :data:`EXPOSURE_RANGE_S`, else raise ValueError naming it."""
    return _in_range("exposure_time_s", exposure_time_s, *EXPOSURE_RANGE_S, "s")


def expected_frame(
    q_nm_inv,
    intensity_cm_inv,
    *,
    exposure_time_s: float,
    content: str = "sample",
    geometry: SAXSGeometry = DEFAULT_GEOMETRY,
    beam: SAXSBeam = DEFAULT_BEAM,
) -> np.ndarray:
    """Mean counts per pixel: Φ·t·T·ε·ΔΩ·(d·I(q) + I_cell(q)), before noise, masking and clipping.

    ``intensity_cm_inv`` on the grid ``q_nm_inv`` (nm⁻¹, increasing) is the cell content's
    differential scattering cross-section per volume (cm⁻¹ sr⁻¹), interpolated log-log to each
    pixel's q (held at its end values outside the grid); ignored for an ``"empty"`` cell.
    """
    _, solid_angle, _, _ = _pixel_arrays(geometry)
    per_photon_sr = _window_per_pixel(geometry, beam)
    if content != "empty":
        per_photon_sr = per_photon_sr + beam.thickness_cm * solid_angle * _intensity_on_pixels(geometry, q_nm_inv, intensity_cm_inv)
    scale = beam.flux_photons_s * exposure_time_s * beam.transmission(content) * beam.efficiency
    return scale * per_photon_sr


def acquire_frame(
    q_nm_inv,
    intensity_cm_inv,
    rng: np.random.Generator,
    *,
    exposure_time_s: float = 1.0,
    content: str = "sample",
    geometry: SAXSGeometry = DEFAULT_GEOMETRY,
    beam: SAXSBeam = DEFAULT_BEAM,
) -> RawFrame:
    """A photon-counting frame of the cell filled with ``content`` ("sample", "solvent" or "empty").

    Poisson counts of :func:`expected_frame`; the beamstop's shadow counts nothing but a faint
    leak (1e-6 of the open-pixel rate), the module gaps read :data:`GAP_VALUE`, and counts clip at
    the 20-bit counter's :data:`PIXEL_FULL_SCALE`. The frame's monitor reads the flux (photons/s)
    and its transmission diode the cell's transmission.

    Raises
    ------
    ValueError
        If ``exposure_time_s`` is outside :data:`EXPOSURE_RANGE_S` or ``content`` is not one of the three.
    """
    exposure_time_s = check_exposure(exposure_time_s)
    if content not in ("sample", "solvent", "empty"):
        msg = f"content={content!r} is not one of 'sample', 'solvent', 'empty'"
        raise ValueError(msg)
    mean = expected_frame(q_nm_inv, intensity_cm_inv, exposure_time_s=exposure_time_s, content=content, geometry=geometry, beam=beam)
    _, _, beamstop, gaps = _pixel_arrays(geometry)
    mean[beamstop] *= 1e-6
    counts = np.minimum(rng.poisson(mean), PIXEL_FULL_SCALE).astype(np.int32)
    counts[gaps] = GAP_VALUE
    return RawFrame(counts, exposure_time_s, beam.flux_photons_s, beam.transmission(content), content)


@lru_cache(maxsize=8)
def _pixel_arrays(geometry: SAXSGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """q, solid angle, beamstop and gap masks of ``geometry``'s pixels, computed once per geometry (read-only)."""
    arrays = (geometry.q_nm_inv(), geometry.solid_angle_sr(), geometry.beamstop_mask(), geometry.gap_mask())
    for array in arrays:
        array.setflags(write=False)
    return arrays


@lru_cache(maxsize=8)
def _window_per_pixel(geometry: SAXSGeometry, beam: SAXSBeam) -> np.ndarray:
    """The windows' scattering into each pixel per incident photon (× its solid angle), computed once."""
    q_pixels, solid_angle, _, _ = _pixel_arrays(geometry)
    out = beam.window_scattering(q_pixels) * solid_angle
    out.setflags(write=False)
    return out


def _intensity_on_pixels(geometry: SAXSGeometry, xp, fp) -> np.ndarray:
    """``fp`` on the grid ``xp`` interpolated log-log to every pixel's q (held at its end values outside)."""
    xp = np.asarray(xp, dtype=float)
    fp = np.asarray(fp, dtype=float)
    if xp.shape != fp.shape or xp.ndim != 1 or xp.size < 2 or np.any(np.diff(xp) <= 0) or xp[0] <= 0:
        msg = (
            "q_nm_inv and intensity_cm_inv must be 1-D, of one length ≥ 2, q positive and increasing;"
            f" got shapes {xp.shape} and {fp.shape}"
        )
        raise ValueError(msg)
    index, weight = _interpolation(geometry, xp.tobytes())
    log_f = np.log(np.clip(fp, 1e-30, None))
    return np.exp(log_f[index] * (1.0 - weight) + log_f[index + 1] * weight)


@lru_cache(maxsize=8)
def _interpolation(geometry: SAXSGeometry, grid: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Left neighbour and weight in log q of each pixel on the grid (the grid is fixed per device: computed once)."""
    log_grid = np.log(np.frombuffer(grid))
    log_q = np.clip(np.log(_pixel_arrays(geometry)[0]), log_grid[0], log_grid[-1])
    index = np.clip(np.searchsorted(log_grid, log_q, side="right") - 1, 0, log_grid.size - 2)
    weight = (log_q - log_grid[index]) / (log_grid[index + 1] - log_grid[index])
    return index, weight
