"""Regenerate the twin's figures in docs/figures/ (Palencia Fig. 1 and 2, Prins Fig. 5).

    python docs/make_figures.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from autolab.sim import Conditions, facts, simulate
from autolab.sim.batch import HotInjectionParameters, hot_injection

OUT = Path(__file__).parent / "figures"


def palencia_fig1():
    """In situ UV-Vis at 14 s: each panel a nucleation T, growth T stepped down by 10 °C."""
    temps = (250, 260, 270, 280, 290, 300, 320, 350)
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), sharex=True, constrained_layout=True)
    for ax, t_nuc in zip(axes.flat, temps, strict=True):
        for i, dt in enumerate(range(0, 100, 10)):
            result = simulate(Conditions(t_nuc, t_nuc - dt, 14.0))
            colour = "saddlebrown" if dt == 0 else plt.cm.Blues(1.0 - i / 11)
            ax.plot(result.wavelength_nm, result.absorbance, color=colour, lw=1)
        ax.axvline(437, ls=":", color="grey")
        ax.set_title(f"nucleation {t_nuc} °C")
        ax.set_xlim(380, 650)
    for ax in axes[-1]:
        ax.set_xlabel("wavelength (nm)")
    for ax in axes[:, 0]:
        ax.set_ylabel("absorbance (AU)")
    fig.suptitle("Twin, 14 s (cf. Palencia 2020 Fig. 1): brown = growth T equal to nucleation T")
    fig.savefig(OUT / "palencia_fig1.png", dpi=90)
    plt.close(fig)


def palencia_fig2():
    """SAXS at 1.5 s, growth 230 °C, nucleation 190–280 °C: I(q), the species' volume fractions, the mean radius."""
    temps = facts.FACT5_NUCLEATION_C
    fig, (ax_i, ax_v, ax_r) = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    for i, t in enumerate(temps):
        result = simulate(Conditions(t, 230, 1.5))
        ax_i.loglog(result.q_nm_inv, result.intensity * 2.0**i, label=f"{t} °C")
    ax_i.set_xlabel("q (nm⁻¹)")
    ax_i.set_ylabel("I(q) (cm⁻¹, offset ×2)")
    ax_i.legend(fontsize=7)
    shares = facts.fact5_saxs_volume_fractions()
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
    radii = facts.fact5_saxs_radius_steps()
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
        ax_d.semilogx(run.time_s, run.nc_concentration_mm / run.nc_concentration_mm[-1], color=colour,
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


def main():
    OUT.mkdir(exist_ok=True)
    palencia_fig1()
    palencia_fig2()
    prins_fig5()
    print(f"wrote figures to {OUT}")


if __name__ == "__main__":
    main()
