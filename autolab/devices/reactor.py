"""The continuous-flow reactor as one ophyd Device: pumps, heaters, detectors and geometry.

Geometry and flow follow Palencia et al. 2020: the two precursor streams meet in a low-volume
nucleation chamber at the nucleation temperature, continue through a larger growth oven at the
growth temperature, and reach the UV-Vis and SAXS flow cells through a short transfer line. The
"reaction time" of the paper is the growth-oven residence time,
``residence_time_s = growth_oven_volume_ul / total_flow_ul_s``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus

from autolab import sim

from ..errors import LimitError, check_range
from .detectors import SAXSDetector, Spectrometer
from .heater import Heater
from .pump import SyringePump
from .signals import UnitSignal


@dataclass(frozen=True)
class PointConditions:
    """Setpoints of one experiment: temperatures (°C) and growth-oven residence time (s)."""

    nucleation_temperature_c: float
    growth_temperature_c: float
    residence_time_s: float


class FlushMonitor(Device):
    """Counts reactor volumes flushed since the conditions last changed.

    ``trigger()`` returns a Status that finishes once ``required_volumes`` reactor volumes have
    passed the flow cell since the last change of conditions, so the product at the flow cell
    reflects the new conditions.
    """

    flushed_volumes = Cpt(UnitSignal, value=0.0, kind="hinted", units="reactor volumes")
    required_volumes = Cpt(UnitSignal, value=3.0, kind="config", units="reactor volumes")

    def trigger(self) -> DeviceStatus:  # pragma: no cover - hardware classes override
        msg = f"{type(self).__name__} is an interface; use the twin's or an EPICS subclass"
        raise NotImplementedError(msg)


class FlowReactor(Device):
    """Palencia-style flow reactor: two syringe pumps, two heaters, spectrometer and SAXS.

    The geometry signals are configuration: they are recorded in every run's descriptor.
    Volumes are in µL, flows in µL/min, times in s.
    """

    cd_pump = Cpt(SyringePump, label="Cd precursor pump")
    se_pump = Cpt(SyringePump, label="Se precursor pump")
    nucleation_heater = Cpt(Heater, label="nucleation heater")
    growth_oven = Cpt(Heater, label="growth oven")
    spectrometer = Cpt(Spectrometer)
    saxs = Cpt(SAXSDetector)
    flush = Cpt(FlushMonitor)

    # The chamber/oven volume ratio is the twin's fitted one (autolab.sim), so the twin's chamber
    # time at each residence time is the one its chemistry was calibrated with.
    nucleation_chamber_volume_ul = Cpt(
        UnitSignal, value=round(250.0 * sim.DEFAULT_PARAMETERS.chamber_to_oven_volume_ratio, 2), kind="config", units="uL"
    )
    growth_oven_volume_ul = Cpt(UnitSignal, value=250.0, kind="config", units="uL")
    transfer_volume_ul = Cpt(UnitSignal, value=30.0, kind="config", units="uL")
    cd_volume_fraction = Cpt(UnitSignal, value=0.5, kind="config", units="")
    max_residence_time_s = Cpt(UnitSignal, value=600.0, kind="config", units="s")

    # --- geometry -------------------------------------------------------------------------
    @property
    def reactor_volume_ul(self) -> float:
        """Chamber + oven + transfer line: the volume one flush must replace, µL."""
        return (
            float(self.nucleation_chamber_volume_ul.get())
            + float(self.growth_oven_volume_ul.get())
            + float(self.transfer_volume_ul.get())
        )

    def total_flow_ul_min(self, residence_time_s: float) -> float:
        """Total flow (µL/min) that gives ``residence_time_s`` in the growth oven."""
        return float(self.growth_oven_volume_ul.get()) / float(residence_time_s) * 60.0

    def flow_rates_for(self, residence_time_s: float) -> dict[str, float]:
        """Pump flow rates (µL/min) for a growth-oven residence time (s).

        Returns ``{"cd_pump": …, "se_pump": …}`` split by ``cd_volume_fraction``.
        """
        total = self.total_flow_ul_min(residence_time_s)
        cd = float(self.cd_volume_fraction.get())
        return {"cd_pump": total * cd, "se_pump": total * (1.0 - cd)}

    def residence_time_for(self, total_flow_ul_min: float) -> float:
        """Growth-oven residence time (s) at a total flow (µL/min); ``inf`` without flow."""
        if total_flow_ul_min <= 0:
            return math.inf
        return float(self.growth_oven_volume_ul.get()) / total_flow_ul_min * 60.0

    def nucleation_time_for(self, residence_time_s: float) -> float:
        """Time (s) the mixture spends in the nucleation chamber at that residence time."""
        return residence_time_s * float(self.nucleation_chamber_volume_ul.get()) / float(
            self.growth_oven_volume_ul.get()
        )

    def flush_time_s(self, residence_time_s: float, volumes: float | None = None) -> float:
        """Seconds of flow needed to pass ``volumes`` reactor volumes at that residence time."""
        volumes = float(self.flush.required_volumes.get()) if volumes is None else volumes
        flow_ul_s = self.total_flow_ul_min(residence_time_s) / 60.0
        return volumes * self.reactor_volume_ul / flow_ul_s

    # --- limits ---------------------------------------------------------------------------
    def residence_time_limits_s(self) -> tuple[float, float]:
        """Shortest and longest residence time the pumps can give, s."""
        cd = float(self.cd_volume_fraction.get())
        fractions = {self.cd_pump: cd, self.se_pump: 1.0 - cd}
        max_total = min(p.limits[1] / f for p, f in fractions.items() if f > 0)
        min_total = max(p.limits[0] / f for p, f in fractions.items() if f > 0)
        shortest = self.residence_time_for(max_total)
        longest = min(self.residence_time_for(min_total), float(self.max_residence_time_s.get()))
        return shortest, longest

    def limits(self) -> dict[str, tuple[float, float]]:
        """Allowed range of each plan parameter: ``{"nucleation_temperature_c": (lo, hi), …}``."""
        return {
            "nucleation_temperature_c": self.nucleation_heater.limits,
            "growth_temperature_c": self.growth_oven.limits,
            "residence_time_s": self.residence_time_limits_s(),
        }

    def check_conditions(
        self, nucleation_temperature_c: float, growth_temperature_c: float, residence_time_s: float
    ) -> PointConditions:
        """Validate one point against the heaters' and pumps' limits; raise before any motion.

        Raises
        ------
        LimitError
            Naming the parameter, its value and the allowed range.
        """
        t_nuc = self.nucleation_heater.check_value(nucleation_temperature_c, "nucleation_temperature_c")
        t_growth = self.growth_oven.check_value(growth_temperature_c, "growth_temperature_c")
        low, high = self.residence_time_limits_s()
        residence = check_range(
            "residence_time_s", residence_time_s, round(low, 3), round(high, 3), "s", what="pumps'"
        )
        return PointConditions(t_nuc, t_growth, residence)

    def check_reagents(self, points: Iterable[PointConditions], *, measurement_s: float = 30.0) -> None:
        """Raise :class:`LimitError` if the syringes cannot supply every point in ``points``.

        Follows the points in order as :func:`~autolab.plans.set_conditions` runs them: the
        pumps keep their previous flow while the heaters ramp and settle, then run at the new
        flow for the flush and ``measurement_s`` of acquisition.
        """
        points = list(points)
        pumps = {"cd_pump": self.cd_pump, "se_pump": self.se_pump}
        need = dict.fromkeys(pumps, 0.0)
        flow_now = {key: float(pump.flow_rate_setpoint.get()) for key, pump in pumps.items()}
        temps_now = (float(self.nucleation_heater.setpoint.get()), float(self.growth_oven.setpoint.get()))
        for point in points:
            targets = (point.nucleation_temperature_c, point.growth_temperature_c)
            ramp_s = max(
                heater.estimate_settle_time_s(target, from_c=now)
                for heater, target, now in zip((self.nucleation_heater, self.growth_oven), targets, temps_now, strict=True)
            )
            flows = self.flow_rates_for(point.residence_time_s)
            run_s = self.flush_time_s(point.residence_time_s) + measurement_s
            for key in pumps:
                need[key] += (flow_now[key] * ramp_s + flows[key] * run_s) / 60.0
            flow_now, temps_now = flows, targets
        for key, volume in need.items():
            pump = pumps[key]
            remaining = float(pump.remaining_volume_ul.get())
            if volume > remaining:
                msg = (
                    f"{pump.label} ({pump.name}) has {remaining:.0f} µL left but {len(points)} point(s) "
                    f"need about {volume:.0f} µL; refill the syringe or measure fewer points"
                )
                raise LimitError(msg)
