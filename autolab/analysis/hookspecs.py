"""Hook specifications of autolab's analysis layer (pytest's ``hookspec.py`` is the model).

A plugin is a module (or object) with functions named like these hooks and decorated with
:data:`autolab.analysis.hookimpl`; it is registered through the ``autolab.plugins`` entry-point
group. An implementation may accept any subset of a hook's arguments, so adding an argument
later breaks nobody.

Analysis hooks (``autolab_analyze_*``) are called on every plugin; each returns a flat mapping of
metric name → value (numbers, strings, booleans, lists, or None) or None when it has nothing to
say. The manager prefixes each metric with the plugin's name (``uvvis.nc_exciton_nm``), records
the plugin's version, and keeps a plugin's exception as an error beside the other plugins'
results instead of stopping the analysis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pluggy

#: Project name for pluggy markers.
PROJECT = "autolab"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def autolab_analyze_uvvis(
    wavelength_nm: np.ndarray, absorbance: np.ndarray, metadata: dict[str, Any]
) -> dict[str, Any] | None:
    """Analyse one UV-Vis absorbance spectrum.

    Called for every measured point (live, after its run finishes), for stored runs
    (``autolab analyze RUN``) and for instrument files (``autolab analyze --kind uvvis FILE``).

    :param wavelength_nm: Wavelengths, nm, increasing (the manager sorts them and notes it in the
        report); repeated values may occur.
    :param absorbance: Absorbance (AU) at each wavelength.
    :param metadata: The run's start document (conditions, ``path_length_cm`` …), or ``{}``.
    :return: Metrics of this plugin, or None.
    """


@hookspec
def autolab_analyze_saxs(
    q_nm_inv: np.ndarray, intensity: np.ndarray, sigma: np.ndarray | None, metadata: dict[str, Any]
) -> dict[str, Any] | None:
    """Analyse one azimuthally integrated SAXS pattern.

    :param q_nm_inv: Scattering vector, nm⁻¹, increasing (sorted by the manager, as above);
        repeated values may occur.
    :param intensity: I(q), absolute (cm⁻¹) or arbitrary units.
    :param sigma: Standard error of each I(q), or None when the file has none.
    :param metadata: The run's start document, or ``{}``.
    :return: Metrics of this plugin, or None.
    """


@hookspec
def autolab_analyze_uvvis_deferred(
    wavelength_nm: np.ndarray, absorbance: np.ndarray, metadata: dict[str, Any]
) -> dict[str, Any] | None:
    """Analyse one UV-Vis spectrum with a method too slow for a campaign's critical path.

    Same arguments and return as :func:`autolab_analyze_uvvis`. During a live session
    :class:`~autolab.analysis.deferred.DeferredAnalysis` calls it in a worker process once the
    point's run has stopped, so it never delays the RunEngine or the next suggestion; its metrics
    are stored as a separate derived run (``plan_name="deferred_analysis"``,
    ``analysis_of=<raw uid>``) and never feed an objective. ``autolab analyze`` (a file or a
    stored run) calls it at once, after the fast hooks.
    """


@hookspec
def autolab_analyze_saxs_deferred(
    q_nm_inv: np.ndarray, intensity: np.ndarray, sigma: np.ndarray | None, metadata: dict[str, Any]
) -> dict[str, Any] | None:
    """Analyse one SAXS pattern with a method too slow for a campaign's critical path.

    Same arguments and return as :func:`autolab_analyze_saxs`; called and stored as
    :func:`autolab_analyze_uvvis_deferred` is (e.g. a Monte-Carlo size distribution of ≈ 1 s).
    """


@hookspec
def autolab_analyze_series(points: list[dict[str, Any]], metadata: dict[str, Any]) -> dict[str, Any] | None:
    """Analyse a time series of points (kinetics), e.g. one condition at several residence times.

    :param points: One mapping per point, each with at least ``residence_time_s`` and the
        namespaced metrics of that point (``uvvis.msc_absorbance_CdSe-437`` …), in time order.
    :param metadata: What the series is (campaign, fixed conditions), or ``{}``.
    :return: Metrics of this plugin, or None.
    """


@hookspec
def autolab_metrics() -> dict[str, dict[str, str]] | None:
    """Declare the metrics a plugin's analysis hooks return, for ``autolab plugins`` and the docs.

    Called when the metrics are listed, never during an analysis. The names are those the
    plugin's hooks return, without the plugin prefix the manager adds.

    :return: ``{"nc_exciton_nm": {"unit": "nm", "description": "NC first exciton"}, …}``; an
        empty ``unit`` for dimensionless metrics, flags and lists.
    """


@hookspec
def autolab_objectives() -> dict[str, Any] | None:
    """Declare the objectives a plugin provides.

    An objective that takes settings (``autolab campaign --objective-setting NAME=VALUE``) lists
    them under ``"settings"``, each with its default, allowed range and unit; a campaign then
    refuses, before anything is measured, a setting the objective does not list or a value
    outside its range. ``"settings": {}`` declares that the objective takes none. An objective
    without the key has its settings passed on unchecked.

    :return: ``{"name": {"direction": "maximize" | "minimize", "description": "…",
        "settings": {"target_diameter_nm": {"default": 3.0, "low": 0.5, "high": 10.0, "unit": "nm"}}}}``.
    """


@hookspec(firstresult=True)
def autolab_objective(name: str, metrics: dict[str, Any], settings: dict[str, Any]) -> float | None:
    """Turn one point's metrics into the outcome the optimiser ingests.

    Stops at the first plugin that returns a value: a plugin answers only for the objective
    names it declared in :func:`autolab_objectives` and returns None otherwise.

    :param name: Objective name, e.g. ``"msc437"``.
    :param metrics: All namespaced metrics of the point.
    :param settings: Objective settings (e.g. ``{"target_diameter_nm": 3.0}``).
    :return: The outcome (NaN marks a failed point), or None if not this plugin's objective.
    """


def metric_table(metrics: dict[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    """``{"name": (unit, description)}`` → what :func:`autolab_metrics` returns.

    Examples
    --------
    >>> metric_table({"nc_exciton_nm": ("nm", "NC first exciton")})
    {'nc_exciton_nm': {'unit': 'nm', 'description': 'NC first exciton'}}
    """
    return {name: {"unit": unit, "description": text} for name, (unit, text) in metrics.items()}


def as_numbers(values, field: str) -> np.ndarray:
    """``values`` as a 1-D float array, or one ``ValueError`` naming ``field`` and what it got.

    For plugins checking what a hook was given (a file's columns, a detector's array).

    Examples
    --------
    >>> as_numbers([1, 2.5], "q_nm_inv")
    array([1. , 2.5])
    >>> as_numbers([[1, 2], [3, 4]], "q_nm_inv")
    Traceback (most recent call last):
    ...
    ValueError: q_nm_inv must be one column (1-D) of numbers, got shape (2, 2)
    """
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        msg = f"{field} must be numbers; got {type(values).__name__} that cannot be read as numbers"
        raise ValueError(msg) from None
    if array.ndim != 1:
        msg = f"{field} must be one column (1-D) of numbers, got shape {array.shape}"
        raise ValueError(msg)
    return array
