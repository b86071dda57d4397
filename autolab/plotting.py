"""Figures of measured points (matplotlib, Agg backend: works without a display)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .catalog import PointData


def plot_point(point: PointData, path: str) -> None:
    """Save a two-panel figure (absorbance vs wavelength, I(q) log–log) of ``point`` to ``path``."""
    c = point.conditions
    title = (
        f"{point.uid[:8]}: nucleation {c.get('nucleation_temperature_c', '?')} °C, "
        f"growth {c.get('growth_temperature_c', '?')} °C, {c.get('residence_time_s', '?')} s"
    )
    _two_panels(title, point.wavelength_nm, point.absorbance, point.q_nm_inv, point.intensity, point.intensity_sigma, path)


def plot_simulation(result, path: str) -> None:
    """Save the spectra of a :class:`autolab.sim.SimResult` to ``path`` (PNG)."""
    c = result.conditions
    title = (
        f"twin: nucleation {c.nucleation_temperature_c:g} °C, growth {c.growth_temperature_c:g} °C, "
        f"{c.residence_time_s:g} s"
    )
    _two_panels(title, result.wavelength_nm, result.absorbance, result.q_nm_inv, result.intensity, result.intensity_sigma, path)


def _two_panels(title, wavelength_nm, absorbance, q_nm_inv, intensity, sigma, path) -> None:
    fig, (ax_uv, ax_saxs) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    fig.suptitle(title)
    ax_uv.plot(wavelength_nm, absorbance, lw=1)
    ax_uv.set_xlabel("wavelength (nm)")
    ax_uv.set_ylabel("absorbance (AU)")
    ax_uv.set_title("UV-Vis")
    if sigma is None:
        ax_saxs.plot(q_nm_inv, intensity, lw=1)
    else:
        ax_saxs.errorbar(q_nm_inv, intensity, yerr=sigma, fmt=".", ms=2, lw=0.5)
    ax_saxs.set_xscale("log")
    ax_saxs.set_yscale("log")
    ax_saxs.set_xlabel("q (nm⁻¹)")
    ax_saxs.set_ylabel("I(q) (cm⁻¹)")
    ax_saxs.set_title("SAXS")
    fig.savefig(path, dpi=110)
    plt.close(fig)
