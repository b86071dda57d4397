"""Physics digital twin of the Palencia continuous-flow CdSe reactor (pure numpy/scipy).

The public API is :func:`simulate`, which takes :class:`Conditions` and returns a
:class:`SimResult` holding the absorbance spectrum, the SAXS pattern and the ground truth of one
steady-state point. ``autolab.devices`` builds its simulated twins on it. The package needs numpy
and scipy only; of autolab it imports :mod:`autolab.materials` (CdSe's constants, sizing and band
shapes) and nothing else.

Examples
--------
>>> from autolab.sim import Conditions, simulate
>>> result = simulate(Conditions(nucleation_temperature_c=280, growth_temperature_c=280,
...                              residence_time_s=14.0))
>>> result.absorbance.shape, result.intensity.shape
((401,), (250,))
>>> "CdSe-437" in result.truth["msc_mm"]
True
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial

import numpy as np

from autolab.materials import MSC_FAMILIES, yu_diameter_nm, yu_wavelength_nm

from . import detector_raw
from .domain import DOMAIN, ValidityDomain, outside_domain
from .kinetics import react
from .observables import msc_families_present, nc_exciton_nm, saxs_mean_radius_nm, saxs_volume_fractions
from .optics import DEFAULT_WAVELENGTH_NM, absorbance, add_detector_noise
from .parameters import DEFAULT_PARAMETERS, KineticParameters
from .scattering import DEFAULT_Q_NM_INV, add_counting_noise, intensity, mesophase_order
from .state import KineticState

__all__ = [
    "DEFAULT_PARAMETERS",
    "DEFAULT_Q_NM_INV",
    "DEFAULT_WAVELENGTH_NM",
    "DOMAIN",
    "MSC_FAMILIES",
    "Conditions",
    "KineticParameters",
    "KineticState",
    "SimResult",
    "ValidityDomain",
    "detector_raw",
    "measure",
    "outside_domain",
    "simulate",
    "simulate_many",
    "solvent_state",
    "steady_state",
    "yu_diameter_nm",
    "yu_wavelength_nm",
]

#: Temperatures the model is meant for, °C (room temperature blanks to beyond hot injection).
TEMPERATURE_RANGE_C = (0.0, 400.0)
#: The fields of :class:`Conditions` that must be given (the others may be None).
_REQUIRED = ("nucleation_temperature_c", "growth_temperature_c", "residence_time_s")
#: Cd or Se precursor concentrations the model is meant for, mM: dilute streams up to a tenfold
#: excess over the 10 mM default (Prins et al. 2021 ran their bimodal syntheses with a tenfold
#: TOP-Se excess).
PRECURSOR_RANGE_MM = (0.1, 500.0)


@dataclass(frozen=True)
class Conditions:
    """Operating conditions of one steady-state point of the flow reactor.

    Parameters
    ----------
    nucleation_temperature_c : float
        Nucleation chamber temperature, °C.
    growth_temperature_c : float
        Growth oven temperature, °C.
    residence_time_s : float
        Time in the growth oven (Palencia's "reaction time"), s; 0 reads the chamber outlet.
    nucleation_time_s : float, optional
        Time in the nucleation chamber, s. By default the flow that sets the residence time
        also sets it: ``residence_time_s × chamber_to_oven_volume_ratio`` (kinetic parameters).
    cd_precursor_mm, se_precursor_mm : float, optional
        Cd and Se precursor concentrations in the mixed stream, mM (default: the kinetic
        parameters' ``precursor_mm``, 10 mM each). The Cd:Se ratio is theirs: the limiting one
        caps the yield, an excess speeds the precursor conversion.
    """

    nucleation_temperature_c: float
    growth_temperature_c: float
    residence_time_s: float
    nucleation_time_s: float | None = None
    cd_precursor_mm: float | None = None
    se_precursor_mm: float | None = None

    def __post_init__(self):
        for name in ("nucleation_temperature_c", "growth_temperature_c", "residence_time_s", "nucleation_time_s",
                     "cd_precursor_mm", "se_precursor_mm"):
            value = getattr(self, name)
            if (value is not None or name in _REQUIRED) and (isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value):
                msg = f"{name}={value!r} is not a number"  # NaN included
                raise ValueError(msg)
        low, high = TEMPERATURE_RANGE_C
        for name in ("nucleation_temperature_c", "growth_temperature_c"):
            value = getattr(self, name)
            if not np.isfinite(value) or not low <= value <= high:
                msg = f"{name}={value!r} is outside the twin's range {low:g}–{high:g} °C"
                raise ValueError(msg)
        for name in ("residence_time_s", "nucleation_time_s"):
            value = getattr(self, name)
            if value is None and name == "nucleation_time_s":
                continue
            if not np.isfinite(value) or value < 0:
                msg = f"{name}={value!r} must be a finite time ≥ 0 s"
                raise ValueError(msg)
        low, high = PRECURSOR_RANGE_MM
        for name in ("cd_precursor_mm", "se_precursor_mm"):
            value = getattr(self, name)
            if value is not None and (not np.isfinite(value) or not low <= value <= high):
                msg = f"{name}={value!r} is outside the twin's range {low:g}–{high:g} mM"
                raise ValueError(msg)

    def effective(self, params: KineticParameters = DEFAULT_PARAMETERS) -> Conditions:
        """These conditions with every default filled in: the chamber time and the precursors ``params`` give.

        >>> full = Conditions(280, 280, 14.0).effective()
        >>> full.nucleation_time_s, full.cd_precursor_mm, full.se_precursor_mm
        (1.4, 10.0, 10.0)
        """
        nucleation_time = round(self.residence_time_s * params.chamber_to_oven_volume_ratio, 9)  # 1.4, not 1.4000000000000001
        return replace(
            self,
            nucleation_time_s=nucleation_time if self.nucleation_time_s is None else self.nucleation_time_s,
            cd_precursor_mm=params.precursor_mm if self.cd_precursor_mm is None else self.cd_precursor_mm,
            se_precursor_mm=params.precursor_mm if self.se_precursor_mm is None else self.se_precursor_mm,
        )


@dataclass(frozen=True)
class SimResult:
    """One simulated point: spectra on their grids and the ground truth.

    ``absorbance`` and ``intensity`` are noise-free unless the result came from :func:`measure`,
    in which case ``intensity_sigma`` holds the counting error of ``intensity``.
    """

    conditions: Conditions | None
    state: KineticState
    wavelength_nm: np.ndarray
    absorbance: np.ndarray
    q_nm_inv: np.ndarray
    intensity: np.ndarray
    intensity_sigma: np.ndarray | None = None
    truth: dict = field(default_factory=dict)


def steady_state(conditions: Conditions, params: KineticParameters = DEFAULT_PARAMETERS) -> KineticState:
    """Species concentrations at the flow cell for ``conditions`` (cached; deterministic)."""
    full = conditions.effective(params)
    nucleation_time, cd, se = full.nucleation_time_s, full.cd_precursor_mm, full.se_precursor_mm
    return _steady_state(
        round(float(conditions.nucleation_temperature_c), 3),
        round(float(conditions.growth_temperature_c), 3),
        round(float(conditions.residence_time_s), 4),
        round(float(nucleation_time), 5),
        params,
        round(float(cd), 6),
        round(float(se), 6),
    )


@lru_cache(maxsize=4096)
def _steady_state(t_nuc, t_growth, residence, nucleation_time, params, cd_mm, se_mm):
    state = react(t_nuc, t_growth, residence, nucleation_time, params, cd_precursor_mm=cd_mm, se_precursor_mm=se_mm)
    # The lamellar precursor mesophase melts on heating and does not re-form within seconds.
    order = mesophase_order(max(t_nuc, t_growth) if residence > 0 else t_nuc)
    return replace(state, mesophase_order=order)


def solvent_state(params: KineticParameters = DEFAULT_PARAMETERS) -> KineticState:
    """Pure solvent: no precursor, monomer, clusters or NCs (on ``params``' NC radius grid).

    What a reactor primed with solvent holds before the first point; the twin's flow cell mixes it
    with each new product as any earlier product (:meth:`KineticState.mixed_with`).

    >>> solvent_state().yield_fraction, solvent_state().cd_precursor_mm
    (0.0, 0.0)
    """
    cold = steady_state(Conditions(25.0, 25.0, 0.0, 0.0), params)
    return KineticState(
        precursor_mm=0.0, monomer_mm=0.0, msc_mm=dict.fromkeys(cold.msc_mm, 0.0), nc_radius_nm=cold.nc_radius_nm,
        nc_mm=np.zeros_like(cold.nc_mm), precursor0_mm=0.0,
    )


def truth_of(state: KineticState) -> dict:
    """Ground truth of a state as plain numbers (JSON-ready): species, NC size, yield."""
    def finite(x):
        return None if not np.isfinite(x) else float(x)

    return {
        "precursor_mm": state.precursor_mm,
        "monomer_mm": state.monomer_mm,
        "msc_mm": dict(state.msc_mm),
        "nc_concentration_mm": state.nc_total_mm,
        "nc_mean_diameter_nm": finite(state.nc_mean_diameter_nm),
        "nc_size_dispersion": finite(state.nc_size_dispersion),
        "yield_fraction": state.yield_fraction,
        "mesophase_order": state.mesophase_order,
        "msc_families_present": msc_families_present(state),
        "nc_exciton_nm": nc_exciton_nm(state),
        "saxs_mean_radius_nm": saxs_mean_radius_nm(state),
        "saxs_volume_fractions": saxs_volume_fractions(state),
    }


def render(
    state: KineticState,
    conditions: Conditions | None = None,
    *,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    q_nm_inv: np.ndarray = DEFAULT_Q_NM_INV,
) -> SimResult:
    """Noise-free spectra and truth of an arbitrary ``state`` (e.g. a flow-cell mixture).

    With ``conditions``, ``truth["extrapolated"]`` says whether they lie outside the twin's validity
    domain (:data:`DOMAIN`) and ``truth["extrapolated_because"]`` why; a state without conditions
    (a mixture) is not extrapolated.
    """
    reasons = [] if conditions is None else outside_domain(conditions)
    return SimResult(
        conditions=conditions,
        state=state,
        wavelength_nm=np.asarray(wavelength_nm, dtype=float),
        absorbance=absorbance(state, wavelength_nm),
        q_nm_inv=np.asarray(q_nm_inv, dtype=float),
        intensity=intensity(state, q_nm_inv),
        truth={**truth_of(state), "extrapolated": bool(reasons), "extrapolated_because": reasons},
    )


def simulate(
    conditions: Conditions,
    *,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    q_nm_inv: np.ndarray = DEFAULT_Q_NM_INV,
    rng: np.random.Generator | None = None,
    params: KineticParameters = DEFAULT_PARAMETERS,
) -> SimResult:
    """Simulate one steady-state point: kinetics, absorbance spectrum and SAXS pattern.

    Parameters
    ----------
    conditions : Conditions
        Temperatures and times of the point.
    wavelength_nm, q_nm_inv : ndarray
        Grids for the spectrum (nm) and the SAXS pattern (nm⁻¹).
    rng : numpy.random.Generator, optional
        With a generator, detector noise is added (see :func:`measure`); without, noise-free.
    params : KineticParameters
        Rate constants of the kinetic model.
    """
    result = render(steady_state(conditions, params), conditions, wavelength_nm=wavelength_nm, q_nm_inv=q_nm_inv)
    return result if rng is None else measure(result, rng)


def measure(
    result: SimResult,
    rng: np.random.Generator,
    *,
    integration_time_s: float = 0.1,
    exposure_time_s: float = 1.0,
) -> SimResult:
    """Add spectrometer noise and SAXS counting noise to a noise-free ``result``."""
    measured_i, sigma = add_counting_noise(result.intensity, rng, exposure_time_s)
    return SimResult(
        conditions=result.conditions,
        state=result.state,
        wavelength_nm=result.wavelength_nm,
        absorbance=add_detector_noise(result.absorbance, rng, integration_time_s),
        q_nm_inv=result.q_nm_inv,
        intensity=measured_i,
        intensity_sigma=sigma,
        truth=result.truth,
    )


def simulate_many(
    conditions: list[Conditions],
    *,
    processes: int | None = None,
    params: KineticParameters = DEFAULT_PARAMETERS,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    q_nm_inv: np.ndarray = DEFAULT_Q_NM_INV,
) -> list[SimResult]:
    """Noise-free :func:`simulate` over many conditions, in parallel processes.

    Parameters
    ----------
    conditions : list of Conditions
        The points, e.g. a whole phase map.
    processes : int, optional
        Worker processes (default: the machine's CPU count; 1 runs serially in this process).
    """
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    conditions = list(conditions)
    processes = processes or os.cpu_count() or 1
    work = partial(simulate, params=params, wavelength_nm=wavelength_nm, q_nm_inv=q_nm_inv)
    if processes == 1 or len(conditions) < 2:
        return [work(c) for c in conditions]
    chunk = max(1, len(conditions) // (4 * processes))
    # "spawn", not fork: forking a process that runs threads (a RunEngine, tiled's client) can
    # leave the children deadlocked on a lock some thread held at the fork.
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(work, conditions, chunksize=chunk))
