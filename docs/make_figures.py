"""Regenerate the twin's figures in docs/figures/, each to hold against a figure of the seed papers.

    python docs/make_figures.py                       # every figure
    python docs/make_figures.py --only palencia_fig1  # one (repeat --only for more)

- ``palencia_fig1.png``: UV-Vis at 14 s, one panel per nucleation temperature (Palencia 2020 Fig. 1);
- ``palencia_figS2.png``: UV-Vis at 4.5 s at 260, 280 and 350 °C with the MSC positions (Fig. S2);
- ``palencia_fig2.png``: SAXS at 1.5 s, growth 230 °C (Fig. 2);
- ``msc437_landscape.png``: the msc437 objective over the nucleation × growth plane at 4.5 and 14 s;
- ``prins_fig5.png``: batch hot injection (Prins 2021 Fig. 5d, f).

Spectra of Fig. 1 and S2 carry the twin's default detector noise, as an instrument records them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from autolab.sim import MSC_FAMILIES, Conditions, facts, outside_domain, simulate, simulate_many
from autolab.sim.batch import HotInjectionParameters, hot_injection

OUT = Path(__file__).parent / "figures"
#: Seed of the detector noise in the spectra figures.
SEED = 0
#: Wavelength window of the spectra figures, nm (Palencia's axes).
WAVELENGTH_WINDOW_NM = (350, 650)


def _noisy(conditions: Conditions, rng: np.random.Generator):
    """Wavelength and absorbance in :data:`WAVELENGTH_WINDOW_NM`, with the default detector noise."""
    result = simulate(conditions, rng=rng)
    low, high = WAVELENGTH_WINDOW_NM
    keep = (result.wavelength_nm >= low) & (result.wavelength_nm <= high)
    return result.wavelength_nm[keep], result.absorbance[keep]


def palencia_fig1():
    """In situ UV-Vis at 14 s: a panel per nucleation T (240–350 °C), growth T stepped down by 10 °C.

    As in the paper, the spectrum with growth T equal to nucleation T is brown and "the spectra in
    the following colours (to the blue) belong to decreasing growth temperatures", down to 90 °C
    below; every panel has the same axes.
    """
    temps = range(240, 351, 10)
    steps = range(0, 100, 10)
    colours = ["saddlebrown", *plt.cm.rainbow(np.linspace(0.95, 0.05, len(steps) - 1))]
    rng = np.random.default_rng(SEED)
    fig, axes = plt.subplots(3, 4, figsize=(15, 10), sharex=True, sharey=True, constrained_layout=True)
    for ax, t_nuc in zip(axes.flat, temps, strict=True):
        for dt, colour in zip(steps, colours, strict=True):
            wavelength, absorbance = _noisy(Conditions(t_nuc, t_nuc - dt, 14.0), rng)
            ax.plot(wavelength, absorbance, color=colour, lw=0.8, label=f"{t_nuc - dt} °C" if dt == 0 else f"−{dt} °C")
        ax.axvline(437, ls=":", color="k", lw=0.8)
        ax.set_title(f"nucleation {t_nuc} °C")
        ax.set_xlim(*WAVELENGTH_WINDOW_NM)
    for ax in axes[-1]:
        ax.set_xlabel("wavelength (nm)")
    for ax in axes[:, 0]:
        ax.set_ylabel("absorbance (AU)")
    handles = [plt.Line2D([], [], color=c, lw=2) for c in colours]
    labels = ["growth T = nucleation T", *(f"growth {dt} °C lower" for dt in steps[1:])]
    fig.legend(handles, labels, loc="outside lower center", ncol=5, fontsize=9)
    fig.suptitle(
        "Twin, 14 s (cf. Palencia 2020 Fig. 1): brown = growth T equal to nucleation T, then towards the blue "
        "growth T 10, 20 … 90 °C lower; dotted: 437 nm; default detector noise"
    )
    fig.savefig(OUT / "palencia_fig1.png", dpi=90)
    plt.close(fig)


def palencia_figS2():
    """In situ UV-Vis at 4.5 s at 260, 280 and 350 °C (growth = nucleation), MSC positions marked."""
    rng = np.random.default_rng(SEED)
    temps = (260, 280, 350)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharex=True, constrained_layout=True)
    for ax, t in zip(axes, temps, strict=True):
        wavelength, absorbance = _noisy(Conditions(t, t, 4.5), rng)
        ax.plot(wavelength, absorbance, color="k", lw=0.8)
        for _name, position, _units in MSC_FAMILIES:
            ax.axvline(position, ls=":", color="tab:red", lw=0.8)
            ax.text(position, 1.0, f" {position:.0f}", transform=ax.get_xaxis_transform(), rotation=90,
                    va="top", ha="left", fontsize=8, color="tab:red")
        ax.set_title(f"{t} °C, 4.5 s")
        ax.set_xlim(WAVELENGTH_WINDOW_NM[0] - 10, WAVELENGTH_WINDOW_NM[1])  # CdSe-350's line clear of the axis
        ax.set_xlabel("wavelength (nm)")
    axes[0].set_ylabel("absorbance (AU)")
    names = ", ".join(f"{position:.0f}" for _, position, _ in MSC_FAMILIES)
    fig.suptitle(f"Twin, 4.5 s, growth T = nucleation T (cf. Palencia 2020 Fig. S2); dotted: the MSC families at {names} nm; "
                 "default detector noise")
    fig.savefig(OUT / "palencia_figS2.png", dpi=90)
    plt.close(fig)


def palencia_fig2():
    """SAXS at 1.5 s, growth 230 °C, nucleation 190–280 °C: I(q), the species' volume fractions, the mean radius."""
    temps = facts.FIG2_NUCLEATION_C
    fig, (ax_i, ax_v, ax_r) = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    for i, t in enumerate(temps):
        result = simulate(Conditions(t, 230, 1.5))
        ax_i.loglog(result.q_nm_inv, result.intensity * 2.0**i, label=f"{t} °C")
    ax_i.set_xlabel("q (nm⁻¹)")
    ax_i.set_ylabel("I(q) (cm⁻¹, offset ×2)")
    ax_i.legend(fontsize=7)
    shares = facts.fig2_saxs_volume_fractions()
    bottom = np.zeros(len(temps))
    for species, label in (("CdSe-403", "CdSe-403 (r 0.87 nm)"), ("CdSe-437", "CdSe-437 (0.94 nm)"),
                           ("CdSe-465", "CdSe-465 (1.02 nm)"), ("NC", "NCs")):
        values = np.array([shares[t].get(species, 0.0) for t in temps])
        ax_v.bar([str(t) for t in temps], values, bottom=bottom, label=label)
        bottom += values
    ax_v.set_xlabel("nucleation temperature (°C)")
    ax_v.set_ylabel("share of the resolved volume (d ≥ 1.6 nm)")
    ax_v.set_ylim(0, 1.25)
    ax_v.legend(fontsize=7, loc="upper center", ncol=2)
    radii = facts.fig2_saxs_radius_nm()
    ax_r.plot(list(radii), [r or np.nan for r in radii.values()], "o-", label="twin")
    missing = [t for t, r in radii.items() if r is None]
    if missing:
        ax_r.text(0.03, 0.5, f"twin: < 2 % of the CdSe in particles SAXS resolves\n(d ≥ 1.6 nm) at {min(missing)}–{max(missing)} °C "
                  "— no radius", transform=ax_r.transAxes, fontsize=8)
    ax_r.plot([190, 200, 220, 240], [0.87, 0.94, 0.94, 1.02], "s", color="k", label="Palencia Fig. 2")
    ax_r.set_xlabel("nucleation temperature (°C)")
    ax_r.set_ylabel("volume-weighted mean radius (nm)")
    ax_r.legend()
    fig.suptitle("Twin, 1.5 s, growth 230 °C (cf. Palencia 2020 Fig. 2)")
    fig.savefig(OUT / "palencia_fig2.png", dpi=90)
    plt.close(fig)


def prins_fig5():
    """Batch hot injection with growth exponents 0, 2, 4: yield, NC concentration and σ_r."""
    fig, (ax_d, ax_f) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    colours = {0: "tab:blue", 2: "tab:green", 4: "tab:red"}
    for n, colour in colours.items():
        run = hot_injection(HotInjectionParameters(growth_exponent=n))
        ax_d.semilogx(run.time_s, run.nc_concentration_mm / run.nc_concentration_mm.max(), color=colour,
                      label=f"c_NC, n = {n} (ratio {run.nucleation_fraction:.0%})")
        ax_f.semilogx(run.time_s, run.std_radius_nm, color=colour, label=f"n = {n}")
        if n == 0:
            ax_d.semilogx(run.time_s, run.yield_fraction, color="k", label="yield")
    ax_d.set_xlabel("time (s)")
    ax_d.set_ylabel("fraction of final value")
    ax_d.legend(fontsize=8)
    ax_f.set_xlabel("time (s)")
    ax_f.set_ylabel("σ_r (nm)")
    ax_f.legend()
    fig.suptitle("Twin, batch hot injection (cf. Prins 2021 Fig. 5d, f)")
    fig.savefig(OUT / "prins_fig5.png", dpi=90)
    plt.close(fig)


#: Grid of the landscape, °C.
LANDSCAPE_NUCLEATION_C = np.arange(190, 351, 10)
LANDSCAPE_GROWTH_C = np.arange(150, 351, 10)


def msc437_objective(result) -> float:
    """The msc437 objective of a point, as a campaign scores it: the uvvis plugin's CdSe-437 band
    absorbance (``uvvis.msc_absorbance_CdSe-437``) through the objectives plugin."""
    from autolab.plugins.objectives import autolab_objective
    from autolab.plugins.uvvis import analyze_spectrum

    metrics = analyze_spectrum(result.wavelength_nm, result.absorbance)
    return autolab_objective("msc437", {f"uvvis.{k}": v for k, v in metrics.items()}, {})


def msc437_landscape():
    """The msc437 objective over nucleation 190–350 °C × growth 150–350 °C at 4.5 and 14 s.

    Computed on noise-free spectra with the uvvis plugin and the objectives plugin, the path a
    campaign's score takes; hatched: the twin's validity domain (:data:`autolab.sim.DOMAIN`),
    the region the papers cover (growth ≤ nucleation, and Fig. 2's 230 °C oven).
    """
    times = (4.5, 14.0)
    grid = [(t_nuc, t_g) for t_g in LANDSCAPE_GROWTH_C for t_nuc in LANDSCAPE_NUCLEATION_C]
    points = [Conditions(float(t_nuc), float(t_g), residence) for residence in times for t_nuc, t_g in grid]
    results = simulate_many(points)
    shape = (len(LANDSCAPE_GROWTH_C), len(LANDSCAPE_NUCLEATION_C))
    values = np.array([msc437_objective(r) for r in results]).reshape(len(times), *shape)
    inside = np.array([not outside_domain(c) for c in points], dtype=float).reshape(len(times), *shape)
    with plt.rc_context({"hatch.color": "white", "hatch.linewidth": 0.6}):
        _landscape_figure(times, values, inside)


def _landscape_figure(times, values, inside):
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True, constrained_layout=True)
    vmax = float(np.nanmax(values))
    for ax, residence, z, mask in zip(axes, times, values, inside, strict=True):
        mesh = ax.pcolormesh(LANDSCAPE_NUCLEATION_C, LANDSCAPE_GROWTH_C, z, cmap="viridis", vmin=0, vmax=vmax, shading="nearest")
        ax.contourf(LANDSCAPE_NUCLEATION_C, LANDSCAPE_GROWTH_C, mask, levels=[0.5, 1.5], colors="none", hatches=["///"])
        ax.contour(LANDSCAPE_NUCLEATION_C, LANDSCAPE_GROWTH_C, mask, levels=[0.5], colors="w", linewidths=1)
        best = np.unravel_index(np.nanargmax(z), z.shape)
        ax.plot(LANDSCAPE_NUCLEATION_C[best[1]], LANDSCAPE_GROWTH_C[best[0]], "r*", ms=12,
                label=f"max {z[best]:.3f} AU at {LANDSCAPE_NUCLEATION_C[best[1]]}/{LANDSCAPE_GROWTH_C[best[0]]} °C")
        if residence == 14.0:
            fig1 = [(t, t - dt) for t in range(240, 351, 10) for dt in range(0, 100, 10)]
            ax.plot(*zip(*fig1, strict=True), ".", color="w", ms=2, label="Palencia Fig. 1 points")
        else:
            ax.plot([260, 280, 350], [260, 280, 350], "o", mfc="none", mec="w", label="Palencia Fig. S2 points")
        ax.set_title(f"{residence:g} s")
        ax.set_xlabel("nucleation temperature (°C)")
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("growth temperature (°C)")
    fig.colorbar(mesh, ax=axes, label="msc437: CdSe-437 band absorbance (AU)")
    fig.suptitle("Twin, msc437 objective (uvvis plugin's CdSe-437 band absorbance, noise-free spectra); "
                 "hatched: the validity domain, the region the papers cover")
    fig.savefig(OUT / "msc437_landscape.png", dpi=90)
    plt.close(fig)


FIGURES = {f.__name__: f for f in (palencia_fig1, palencia_figS2, palencia_fig2, msc437_landscape, prins_fig5)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(FIGURES), help="Make only this figure (repeatable).")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    start = time.perf_counter()
    for name in args.only or FIGURES:
        begun = time.perf_counter()
        FIGURES[name]()
        print(f"{name}.png: {time.perf_counter() - begun:.1f} s")
    print(f"wrote figures to {OUT} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
