"""A campaign's report: figures and a JSON summary in one folder.

- ``best_so_far.png`` — the best objective value after each experiment (design points marked);
- ``spectra.png`` — UV-Vis spectra and SAXS patterns of the best points, read from the catalog;
- ``model.png`` — the GP's mean and standard deviation over the two most sensitive inputs (the
  shortest learned length scales in the unit cube), the others held at the best point, with the
  measured points on top (one input: mean ± 2σ along it); only when the model chose at least one
  point — a campaign of design points alone has no model to show;
- ``summary.json`` — :meth:`~autolab.campaign.Campaign.summary`.

The figures are :class:`matplotlib.figure.Figure` objects saved with ``savefig``: no pyplot and
no backend, so writing a report changes nothing of the process's matplotlib state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from .catalog import load_point
from .conditions import NAMES, condition, describe
from .plotting import save_figure

if TYPE_CHECKING:
    from .campaign import Campaign


def _label(name: str) -> str:
    """An axis label: the condition's with its unit, or the input's name."""
    return condition(name).label if name in NAMES else name


def write_report(campaign: Campaign, client, directory: str | Path, *, n_best: int = 3, summary: dict | None = None) -> dict[str, str]:
    """Write the report figures and summary of ``campaign`` into ``directory``; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"summary": str(directory / "summary.json")}
    Path(paths["summary"]).write_text(json.dumps(summary or campaign.summary(), indent=2))
    if campaign.points:
        paths["best_so_far"] = _best_so_far(campaign, directory / "best_so_far.png")
        paths["spectra"] = _best_spectra(campaign, client, directory / "spectra.png", n_best)
    model_chose = any(not p.design for p in campaign.points)
    if model_chose and sum(p.value is not None for p in campaign.points) >= 3:
        paths["model"] = _model(campaign, directory / "model.png")
    return paths


def _best_so_far(campaign: Campaign, path: Path) -> str:
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    n = np.arange(1, len(campaign.points) + 1)
    values = [np.nan if p.value is None else p.value for p in campaign.points]
    design = np.array([p.design for p in campaign.points])
    best = [np.nan if b is None else b for b in campaign.best_so_far()]
    ax.plot(n, best, drawstyle="steps-post", color="k", label="best so far")
    ax.plot(n[design], np.asarray(values)[design], "o", mfc="none", color="tab:gray", label="design point")
    ax.plot(n[~design], np.asarray(values)[~design], "o", color="tab:blue", label="model suggestion")
    ax.set_xlabel("experiment")
    ax.set_ylabel(campaign.settings.objective)
    ax.set_title(f"campaign {campaign.id[:8]} ({campaign.settings.direction})")
    ax.legend()
    save_figure(fig, path)
    return str(path)


def _best_spectra(campaign: Campaign, client, path: Path, n_best: int) -> str:
    sign = 1.0 if campaign.settings.direction == "maximize" else -1.0
    ranked = sorted((p for p in campaign.points if p.value is not None), key=lambda p: -sign * p.value)[:n_best]
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_uv, ax_saxs = fig.subplots(1, 2)
    for rank, point in enumerate(ranked, start=1):
        data = load_point(client[point.run_uid])
        label = f"#{rank} {describe(point.conditions, 3)}: {point.value:.3g}"
        ax_uv.plot(data.wavelength_nm, data.absorbance, lw=1, label=label)
        ax_saxs.loglog(data.q_nm_inv, data.intensity, lw=1, label=label)
    ax_uv.set_xlabel("wavelength (nm)")
    ax_uv.set_ylabel("absorbance (AU)")
    ax_uv.set_title(f"best points by {campaign.settings.objective}")
    ax_uv.legend(fontsize=8)
    ax_saxs.set_xlabel("q (nm⁻¹)")
    ax_saxs.set_ylabel("I(q) (cm⁻¹)")
    ax_saxs.set_title("SAXS")
    save_figure(fig, path)
    return str(path)


def sensitive_inputs(campaign: Campaign) -> list[str]:
    """Bounded inputs ordered from the shortest GP length scale (most sensitive) to the longest."""
    scales = campaign.model_summary().get("length_scales") or {}
    names = list(campaign.settings.bounds)
    return sorted(names, key=lambda n: scales.get(n, np.inf))


def _model(campaign: Campaign, path: Path) -> str:
    opt = campaign.optimizer
    best = campaign.best()
    names = sensitive_inputs(campaign)
    base = {n: best.conditions[n] for n in campaign.settings.bounds}
    measured = [p for p in campaign.points if p.value is not None]
    grid_axes = {}
    for name in names[:2]:
        low, high, scale = campaign.settings.bounds[name]
        grid_axes[name] = np.geomspace(low, high, 60) if scale == "log" else np.linspace(low, high, 60)
    if len(names) == 1:
        (name,) = names
        xs = grid_axes[name]
        mean, std = opt.predict([{**base, name: x} for x in xs])
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
        ax.plot(xs, mean, color="k", label="GP mean")
        ax.fill_between(xs, mean - 2 * std, mean + 2 * std, alpha=0.3, label="± 2σ")
        ax.plot([p.conditions[name] for p in measured], [p.value for p in measured], "o", label="measured")
        ax.set_xlabel(_label(name))
        ax.set_ylabel(campaign.settings.objective)
        if campaign.settings.bounds[name][2] == "log":
            ax.set_xscale("log")
        ax.legend()
    else:
        x_name, y_name = names[0], names[1]
        xs, ys = grid_axes[x_name], grid_axes[y_name]
        xx, yy = np.meshgrid(xs, ys)
        points = [{**base, x_name: x, y_name: y} for x, y in zip(xx.ravel(), yy.ravel(), strict=True)]
        mean, std = opt.predict(points)
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, values, title in ((axes[0], mean, "GP mean"), (axes[1], std, "GP standard deviation")):
            mesh = ax.pcolormesh(xx, yy, values.reshape(xx.shape), shading="auto", cmap="viridis")
            fig.colorbar(mesh, ax=ax, label=campaign.settings.objective)
            ax.scatter([p.conditions[x_name] for p in measured], [p.conditions[y_name] for p in measured], c="w", edgecolors="k", s=25)
            ax.plot(base[x_name], base[y_name], "r*", ms=14, label="best")
            ax.set_xlabel(_label(x_name))
            ax.set_ylabel(_label(y_name))
            ax.set_title(title)
            for name, setter in ((x_name, ax.set_xscale), (y_name, ax.set_yscale)):
                if campaign.settings.bounds[name][2] == "log":
                    setter("log")
        held = describe({n: base[n] for n in names[2:]}, 3)
        fixed = describe(campaign.settings.fixed, 3)
        fig.suptitle(f"most sensitive inputs; {held or 'no other inputs'}; other fixed: {fixed or 'none'}", fontsize=9)
    save_figure(fig, path)
    return str(path)
