"""Loading analysis plugins and running their hooks so that one failing plugin harms nobody."""

from __future__ import annotations

import importlib.metadata
import math
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pluggy

from ..errors import LimitError, check_range
from . import hookspecs
from .hookspecs import PROJECT, as_numbers

#: Entry-point group that built-in and third-party plugins register under.
ENTRY_POINT_GROUP = "autolab.plugins"
#: Set to any non-empty value to skip entry-point loading (as PYTEST_DISABLE_PLUGIN_AUTOLOAD).
DISABLE_AUTOLOAD_ENV = "AUTOLAB_DISABLE_PLUGIN_AUTOLOAD"


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin: its name, where it came from, and the hooks it implements."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


@dataclass
class AnalysisReport:
    """Namespaced metrics of every plugin, the errors of those that failed, and their versions."""

    metrics: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    #: What the manager repaired before the plugins saw the data (e.g. a descending axis sorted).
    notes: list[str] = field(default_factory=list)

    def merge(self, other: AnalysisReport) -> AnalysisReport:
        return AnalysisReport(
            {**self.metrics, **other.metrics}, {**self.errors, **other.errors}, {**self.versions, **other.versions},
            list(dict.fromkeys([*self.notes, *other.notes])),
        )


class PluginManager:
    """autolab's plugin manager: pluggy underneath, entry points on top, errors contained.

    Parameters
    ----------
    autoload : bool, optional
        Load the ``autolab.plugins`` entry points now (default: unless
        ``AUTOLAB_DISABLE_PLUGIN_AUTOLOAD`` is set).

    Notes
    -----
    Entry points are loaded one by one (rather than with pluggy's
    ``load_setuptools_entrypoints``) so that a plugin that fails to import, or whose name another
    distribution already uses, is reported in :attr:`load_errors` instead of stopping the others.
    """

    def __init__(self, *, autoload: bool | None = None):
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._info: dict[str, tuple[str, str]] = {}
        self.load_errors: list[str] = []
        #: Plugins whose entry point failed to import, by name: each analysis names them in its ``errors``.
        self.import_failures: dict[str, str] = {}
        if autoload is None:
            autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
        if autoload:
            self.load_entrypoints()

    # --- registration --------------------------------------------------------------------
    def load_entrypoints(self) -> None:
        """Register every plugin of the ``autolab.plugins`` group; report clashes and failures."""
        seen: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP:
                    continue
                dist_name = dist.metadata["Name"]
                if ep.name in seen:
                    if seen[ep.name] != dist_name:
                        self.load_errors.append(
                            f"plugin name {ep.name!r} is registered by both {seen[ep.name]} and {dist_name}; "
                            f"kept {seen[ep.name]}'s, metric names must be unique per plugin"
                        )
                    continue
                seen[ep.name] = dist_name
                try:
                    plugin = ep.load()
                except Exception as exc:
                    self.load_errors.append(f"plugin {ep.name!r} ({dist_name}) failed to import: {exc!r}")
                    self.import_failures[ep.name] = f"plugin {ep.name!r} ({dist_name} {dist.version}) failed to import and did not run: {exc!r}"
                    continue
                self.register(plugin, ep.name, distribution=dist_name, version=dist.version)
        self._pm.check_pending()

    def register(self, plugin: object, name: str, *, distribution: str = "", version: str = "") -> None:
        """Register ``plugin`` under ``name`` (its metric namespace)."""
        if self._pm.has_plugin(name):
            msg = f"an analysis plugin named {name!r} is already registered; metric names would clash"
            raise ValueError(msg)
        self._pm.register(plugin, name=name)
        self._info[name] = (distribution, version or getattr(plugin, "__version__", ""))

    def plugins(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version and implemented hooks."""
        out = []
        for name, plugin in self._pm.list_name_plugin():
            hooks = tuple(sorted(h.name for h in self._pm.get_hookcallers(plugin) or []))
            distribution, version = self._info.get(name, ("", ""))
            out.append(PluginInfo(name, distribution, version, hooks))
        return sorted(out, key=lambda p: p.name)

    # --- calling -------------------------------------------------------------------------
    def analyze_uvvis(self, wavelength_nm, absorbance, metadata: dict | None = None, *, deferred: bool = False) -> AnalysisReport:
        """Run every plugin's ``autolab_analyze_uvvis`` (with ``deferred``: ``…_uvvis_deferred``) on one spectrum."""
        order, wavelength_nm, absorbance = _sorted_pair(wavelength_nm, absorbance, "wavelength_nm", "absorbance")
        hook = "autolab_analyze_uvvis_deferred" if deferred else "autolab_analyze_uvvis"
        report = self._call_all(hook, wavelength_nm=wavelength_nm, absorbance=absorbance, metadata=metadata or {})
        report.notes.extend(_sorting_note(order, "wavelength_nm"))
        return report

    def has_deferred(self) -> bool:
        """Whether any plugin implements a deferred (slow) analysis hook."""
        return any(getattr(self._pm.hook, h).get_hookimpls() for h in ("autolab_analyze_uvvis_deferred", "autolab_analyze_saxs_deferred"))

    def analyze_saxs(self, q_nm_inv, intensity, sigma=None, metadata: dict | None = None, *, deferred: bool = False) -> AnalysisReport:
        """Run every plugin's ``autolab_analyze_saxs`` (with ``deferred``: ``…_saxs_deferred``) on one pattern."""
        order, q, i = _sorted_pair(q_nm_inv, intensity, "q_nm_inv", "intensity")
        s = None
        if sigma is not None:
            s = np.asarray(sigma, dtype=float)
            if s.shape != q.shape:
                msg = f"intensity_sigma must match q_nm_inv in length, got {s.shape} and {q.shape}"
                raise ValueError(msg)
            s = s[order]
        hook = "autolab_analyze_saxs_deferred" if deferred else "autolab_analyze_saxs"
        report = self._call_all(hook, q_nm_inv=q, intensity=i, sigma=s, metadata=metadata or {})
        report.notes.extend(_sorting_note(order, "q_nm_inv"))
        return report

    def analyze_series(self, points: list[dict], metadata: dict | None = None) -> AnalysisReport:
        """Run every plugin's ``autolab_analyze_series`` on a time series of points."""
        return self._call_all("autolab_analyze_series", points=list(points), metadata=metadata or {})

    def objectives(self) -> dict[str, dict]:
        """All declared objectives: ``{"msc437": {"direction": "maximize", "plugin": "objectives", …}, …}``."""
        merged: dict[str, dict] = {}
        for impl in reversed(self._pm.hook.autolab_objectives.get_hookimpls()):
            for name, spec in (impl.function() or {}).items():
                merged[name] = {**spec, "plugin": impl.plugin_name}
        return merged

    def metrics(self) -> dict[str, dict[str, dict[str, str]]]:
        """The metrics each plugin declares: ``{"uvvis": {"nc_exciton_nm": {"unit": "nm", …}}, …}``.

        Metric names are listed without the plugin prefix; a plugin that declares none is absent.
        """
        declared: dict[str, dict[str, dict[str, str]]] = {}
        for impl in self._pm.hook.autolab_metrics.get_hookimpls():
            declared[impl.plugin_name] = dict(impl.function() or {})
        return dict(sorted(declared.items()))

    def objective_spec(self, name: str) -> dict:
        """What the plugins declare of objective ``name`` (direction, description, settings, plugin).

        Raises
        ------
        LimitError
            If no plugin provides it, naming those that are provided.
        """
        known = self.objectives()
        if name not in known:
            msg = f"objective={name!r} is not provided by any plugin; available: {', '.join(sorted(known)) or 'none'}"
            raise LimitError(msg)
        return known[name]

    def check_objective_settings(self, name: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
        """Objective ``name``'s ``settings``, checked against what its plugin declares (:func:`autolab_objectives`).

        Returns the settings with numbers as floats. An objective that declares no ``"settings"``
        gets them unchecked.

        Raises
        ------
        LimitError
            For an objective no plugin provides, a setting the objective does not take, or a value
            that is not a number in the declared range (naming the setting, the value and the range).
        """
        spec = self.objective_spec(name)
        given = dict(settings or {})
        declared = spec.get("settings")
        if declared is None:
            return given
        if not isinstance(declared, Mapping) or not all(isinstance(setting, Mapping) for setting in declared.values()):
            msg = (f"plugin {spec.get('plugin')!r} declares objective {name!r} with settings={declared!r}; "
                   "give {NAME: {'default': …, 'low': …, 'high': …, 'unit': …}} (autolab_objectives)")
            raise LimitError(msg)
        unknown = sorted(set(given) - set(declared))
        if unknown:
            takes = f"it takes {', '.join(sorted(declared))}" if declared else "it takes none"
            msg = f"objective setting {unknown[0]!r} is not one objective {name!r} takes; {takes}"
            raise LimitError(msg)
        return {
            key: check_range(key, value, declared[key]["low"], declared[key]["high"], declared[key].get("unit", ""))
            if "low" in declared[key] and "high" in declared[key] else value
            for key, value in given.items()
        }

    def objective(self, name: str, metrics: dict[str, Any], settings: dict | None = None) -> float:
        """The outcome of objective ``name`` for one point's metrics (NaN if it cannot be had)."""
        self.objective_spec(name)
        value = self._pm.hook.autolab_objective(name=name, metrics=metrics, settings=settings or {})
        return math.nan if value is None else float(value)

    def _call_all(self, hook_name: str, **kwargs) -> AnalysisReport:
        report = AnalysisReport(errors=dict(self.import_failures))  # an installed plugin that could not load is missing here too
        hook = getattr(self._pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            name = impl.plugin_name
            report.versions[name] = self._info.get(name, ("", ""))[1]
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            try:
                result = impl.function(**args)
            except Exception as exc:
                last = traceback.extract_tb(exc.__traceback__)[-1]
                report.errors[name] = f"{hook_name} in plugin {name!r} raised {type(exc).__name__}: {exc} ({last.filename}:{last.lineno})"
                continue
            for key, value in (result or {}).items():
                report.metrics[f"{name}.{key}"] = value
        return report


def _sorting_note(order: np.ndarray, name: str) -> list[str]:
    """A note for the report when the hooks got ``name`` sorted (the hookspecs promise an increasing axis)."""
    if np.all(order[1:] > order[:-1]):
        return []
    if np.all(order == np.arange(order.size)[::-1]):
        return [f"{name} was in descending order; sorted before the analysis"]
    return [f"{name} was not in increasing order; sorted before the analysis"]


def _sorted_pair(x, y, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sorting order of ``x`` (stable, to reorder companions such as σ) and both arrays sorted."""
    x = as_numbers(x, x_name)
    y = as_numbers(y, y_name)
    if x.shape != y.shape:
        msg = f"{x_name} and {y_name} must be 1-D and of equal length, got {x.shape} and {y.shape}"
        raise ValueError(msg)
    order = np.argsort(x, kind="stable")
    return order, x[order], y[order]

