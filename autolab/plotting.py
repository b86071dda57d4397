"""Figures of measured points, saved as PNG files.

The figures are :class:`matplotlib.figure.Figure` objects saved with ``savefig``: no pyplot and
no backend, so they work without a display and leave the process's matplotlib state alone.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from .catalog import PointData
from .conditions import NAMES, describe


def plot_point(point: PointData, path: str) -> None:
    """Save a two-panel figure (absorbance vs wavelength, I(q) log–log) of ``point`` to ``path``."""
    title = f"{point.uid[:8]}: {describe(point.conditions) or 'conditions not recorded'}"
    _two_panels(title, point.wavelength_nm, point.absorbance, point.q_nm_inv, point.intensity, point.intensity_sigma, path)


def plot_simulation(result, path: str) -> None:
    """Save the spectra of a :class:`autolab.sim.SimResult` to ``path`` (PNG)."""
    title = f"twin: {describe({name: getattr(result.conditions, name) for name in NAMES})}"
    _two_panels(title, result.wavelength_nm, result.absorbance, result.q_nm_inv, result.intensity, result.intensity_sigma, path)


def _two_panels(title, wavelength_nm, absorbance, q_nm_inv, intensity, sigma, path) -> None:
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_uv, ax_saxs = fig.subplots(1, 2)
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
    save_figure(fig, path)


def save_figure(fig: Figure, path) -> None:
    """``fig.savefig(path)``; a file the system refuses (no space, no permission) is one :class:`~autolab.errors.AutolabError`."""
    from .errors import AutolabError

    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        msg = f"cannot write the figure {path}: {exc.strerror or exc}"
        raise AutolabError(msg) from None
