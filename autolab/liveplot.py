"""Live figures during a session: each point's spectra and the campaign's best so far.

:class:`LiveCampaignPlot` is a RunEngine callback. The session (:mod:`autolab.startup`)
subscribes it only when there is a display; headless runs (CI, the queue worker) have none.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from .analysis.runs import readings_of
from .conditions import describe


class LiveCampaignPlot:
    """Left: the UV-Vis spectrum of each new point (the last few kept); right: best so far.

    Parameters
    ----------
    keep : int
        Spectra shown at once (older ones are removed).
    """

    def __init__(self, keep: int = 5):
        self.keep = keep
        self.fig, (self.ax_uv, self.ax_best) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
        self.ax_uv.set_xlabel("wavelength (nm)")
        self.ax_uv.set_ylabel("absorbance (AU)")
        self.ax_best.set_xlabel("campaign point")
        self.ax_best.set_ylabel("best so far")
        (self.best_line,) = self.ax_best.plot([], [], drawstyle="steps-post", color="k")
        self.values: list[float] = []
        self.direction = "maximize"
        self._start: dict | None = None
        self._primary: set[str] = set()

    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            self._start = doc
            if doc.get("campaign_role") == "start":
                self.values = []
                self.direction = (doc.get("campaign_settings") or {}).get("direction", "maximize")
                self.ax_best.set_ylabel((doc.get("campaign_settings") or {}).get("objective", "objective") + " (best so far)")
            if doc.get("plan_name") == "analysis" and "objective_value" in doc:
                value = doc["objective_value"]
                self.values.append(math.nan if value is None else float(value))
                self._draw_best()
        elif name == "descriptor" and doc.get("name") == "primary":
            self._primary.add(doc["uid"])
        elif name == "event" and doc["descriptor"] in self._primary and self._start is not None:
            data = readings_of(self._start, doc["data"])
            if "spectrometer_wavelength_nm" in data:
                label = describe(self._start, 3)
                self.ax_uv.plot(data["spectrometer_wavelength_nm"], data["spectrometer_absorbance"], lw=1, label=label)
                while len(self.ax_uv.lines) > self.keep:
                    self.ax_uv.lines[0].remove()
                self.ax_uv.legend(fontsize=8)
                self.fig.canvas.draw_idle()

    def _draw_best(self) -> None:
        better = max if self.direction == "maximize" else min
        best, out = math.nan, []
        for v in self.values:
            best = v if math.isnan(best) else (best if math.isnan(v) else better(best, v))
            out.append(best)
        self.best_line.set_data(range(1, len(out) + 1), out)
        self.ax_best.relim()
        self.ax_best.autoscale_view()
        self.fig.canvas.draw_idle()
