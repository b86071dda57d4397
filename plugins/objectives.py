"""Built-in objectives: turn one point's metrics into the optimiser's outcome.

- ``msc437`` (maximise): the CdSe-437 band absorbance A₄₃₇ (AU, 0.5 mm path), proportional to
  the concentration of the CdSe-437 family, the product Palencia et al. 2020 target; 0 when the
  band is absent. It varies smoothly with the conditions, so a GP models it well.
- ``msc437_selectivity`` (maximise): CdSe-437 share of the CdSe absorbance,
  A₄₃₇ / (Σ_families A_family + A_NC), band heights from the uvvis plugin's fit; NaN (a failed
  trial) when no CdSe band is seen. It jumps where a family crosses its detection threshold.
- ``nc_size`` (minimise): |d − d_target| / d_target + σ_d/d, from the uvvis plugin's NC diameter
  and size dispersion; ``settings["target_diameter_nm"]`` (default 3.0 nm).
- ``yield`` (maximise): the uvvis plugin's yield proxy (absorbance at 350 nm over that of the
  whole precursor as bulk-like CdSe).

A point without the needed metrics gives NaN, which the optimiser records as a failed trial.
"""

from __future__ import annotations

import math

from autolab.analysis import hookimpl
from autolab.errors import check_range

#: The NC diameter ``nc_size`` aims at, nm: its default and allowed range (the sizes the uvvis
#: plugin's sizing curve covers, Yu et al. 2003).
TARGET_DIAMETER_NM = {"default": 3.0, "low": 0.5, "high": 10.0, "unit": "nm", "description": "NC diameter aimed at"}

OBJECTIVES = {
    "msc437": {"direction": "maximize", "description": "CdSe-437 band absorbance, AU", "settings": {}},
    "msc437_selectivity": {"direction": "maximize", "description": "CdSe-437 share of CdSe absorbance", "settings": {}},
    "nc_size": {"direction": "minimize", "description": "relative miss of the target NC diameter plus size dispersion",
                "settings": {"target_diameter_nm": TARGET_DIAMETER_NM}},
    "yield": {"direction": "maximize", "description": "CdSe yield proxy from the 350 nm absorbance", "settings": {}},
}


def msc437_share(metrics: dict) -> float:
    bands = {k: v for k, v in metrics.items() if k.startswith("uvvis.msc_absorbance_") and v is not None}
    nc = metrics.get("uvvis.nc_band_absorbance") or 0.0
    total = sum(max(v, 0.0) for v in bands.values()) + max(nc, 0.0)
    a437 = bands.get("uvvis.msc_absorbance_CdSe-437")
    if a437 is None or total <= 0:
        return math.nan
    return max(a437, 0.0) / total


def nc_size_miss(metrics: dict, target_diameter_nm: float) -> float:
    diameter = metrics.get("uvvis.nc_diameter_nm")
    dispersion = metrics.get("uvvis.nc_size_dispersion")
    if diameter is None or dispersion is None:
        return math.nan
    return abs(diameter - target_diameter_nm) / target_diameter_nm + dispersion


@hookimpl
def autolab_objectives():
    return OBJECTIVES


@hookimpl
def autolab_objective(name, metrics, settings):
    if name == "msc437":
        value = metrics.get("uvvis.msc_absorbance_CdSe-437")
        return math.nan if value is None else max(float(value), 0.0)
    if name == "msc437_selectivity":
        return msc437_share(metrics)
    if name == "nc_size":
        # A campaign refused an out-of-range target before it began; a direct call is checked here the same way.
        target = check_range("target_diameter_nm", settings.get("target_diameter_nm", TARGET_DIAMETER_NM["default"]),
                             TARGET_DIAMETER_NM["low"], TARGET_DIAMETER_NM["high"], TARGET_DIAMETER_NM["unit"])
        return nc_size_miss(metrics, target)
    if name == "yield":
        value = metrics.get("uvvis.yield_proxy")
        return math.nan if value is None else float(value)
    return None
