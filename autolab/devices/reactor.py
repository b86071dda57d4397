"""The continuous-flow reactor as one ophyd Device: pumps, heaters, detectors and geometry.

Geometry and flow follow Palencia et al. 2020: the two precursor streams meet in a low-volume
nucleation chamber at the nucleation temperature, continue through a larger growth oven at the
growth temperature, and reach the UV-Vis and SAXS flow cells through a short transfer line. The
"reaction time" of the paper is the growth-oven residence time,
``residence_time_s = growth_oven_volume_ul / total_flow_ul_s``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus

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
    Volumes are in µL, flows in µL/min, times in s. The volumes start at nominal values (a 50 µL
    nucleation chamber, a 250 µL growth oven, a 30 µL transfer line) for the instrument to
    replace with its measured ones.
    """

    cd_pump = Cpt(SyringePump, label="Cd precursor pump")
    se_pump = Cpt(SyringePump, label="Se precursor pump")
    nucleation_heater = Cpt(Heater, label="nucleation heater")
    growth_oven = Cpt(Heater, label="growth oven")
    spectrometer = Cpt(Spectrometer)
    saxs = Cpt(SAXSDetector)
    flush = Cpt(FlushMonitor)

    # The reactor's volumes are the instrument's: a hardware subclass sets the measured ones, and
    # the twin's builder sets the chamber to its chemistry's chamber/oven ratio.
    nucleation_chamber_volume_ul = Cpt(UnitSignal, value=50.0, kind="config", units="uL")
    growth_oven_volume_ul = Cpt(UnitSignal, value=250.0, kind="config", units="uL")
    transfer_volume_ul = Cpt(UnitSignal, value=30.0, kind="config", units="uL")
    cd_volume_fraction = Cpt(UnitSignal, value=0.5, kind="config", units="")
    max_residence_time_s = Cpt(UnitSignal, value=600.0, kind="config", units="s")
    # Total flow while the heaters ramp and settle (0 stops the pumps). 25 µL/min is the growth
    # oven's volume over the longest residence time (250 µL / 600 s): whatever sits in the hot
    # zone during a ramp is never older than the slowest allowed condition, so nothing stagnates
    # and fouls the lines, and each pump's 12.5 µL/min share sits just above its 10 µL/min
    # minimum. A ten-minute ramp then costs about 125 µL per syringe instead of a full one.
    standby_flow_ul_min = Cpt(UnitSignal, value=25.0, kind="config", units="uL/min")

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

    def standby_flow_rates(self) -> dict[str, float]:
        """Pump flow rates (µL/min) while the heaters move: ``standby_flow_ul_min`` split like a point's.

        Raises
        ------
        LimitError
            If a pump's share is neither 0 nor within its flow range.
        """
        total = float(self.standby_flow_ul_min.get())
        cd = float(self.cd_volume_fraction.get())
        flows = {"cd_pump": total * cd, "se_pump": total * (1.0 - cd)}
        for key, flow in flows.items():
            pump = getattr(self, key)
            low, high = pump.limits
            if flow != 0.0 and not low <= flow <= high:
                lowest, highest = self.standby_flow_range()
                msg = (
                    f"standby_flow_ul_min={total:g} gives the {pump.label} {flow:g} µL/min, outside its "
                    f"allowed range {low:g}–{high:g} µL/min; set 0 (stop) or a total of {lowest:g}–{highest:g} µL/min"
                )
                raise LimitError(msg)
        return flows

    def standby_flow_range(self) -> tuple[float, float]:
        """Lowest and highest total standby flow (µL/min) besides 0 that keeps each pump's share in its range.

        Examples
        --------
        >>> from autolab.devices import make_twin_reactor
        >>> make_twin_reactor().standby_flow_range()  # two pumps of 10–12000 µL/min, half the flow each
        (20.0, 24000.0)
        """
        cd = float(self.cd_volume_fraction.get())
        shares = {self.cd_pump: cd, self.se_pump: 1.0 - cd}
        lowest = max(pump.limits[0] / share for pump, share in shares.items() if share > 0)
        highest = min(pump.limits[1] / share for pump, share in shares.items() if share > 0)
        return lowest, highest

    def set_standby_flow(self, value: float | str, *, field: str = "standby_flow_ul_min") -> float:
        """Set the total flow while the heaters move and settle: 0 stops the pumps, else within :meth:`standby_flow_range`.

        Parameters
        ----------
        value : float or str
            µL/min, as a number or its text (a config file's or an option's value).
        field : str
            How the user gave it, for the message (``--standby-flow-ul-min``).

        Raises
        ------
        LimitError
            Naming ``field``, the value and the allowed values; the setting is left as it was.

        Examples
        --------
        >>> from autolab.devices import make_twin_reactor
        >>> make_twin_reactor().set_standby_flow(5)
        Traceback (most recent call last):
        ...
        autolab.errors.LimitError: standby_flow_ul_min=5 is outside the allowed standby flows: 0 (stop the pumps ...) or 20–24000 µL/min
        """
        low, high = self.standby_flow_range()
        allowed = f"0 (stop the pumps while the heaters move) or {low:g}–{high:g} µL/min"
        try:
            flow = float(value)
        except (TypeError, ValueError):
            msg = f"{field}={value!r} is not a number; allowed: {allowed}"
            raise LimitError(msg) from None
        if flow != 0.0 and not low <= flow <= high:
            msg = f"{field}={flow:g} is outside the allowed standby flows: {allowed}"
            raise LimitError(msg)
        self.standby_flow_ul_min.put(flow)
        return flow

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

    def reagent_need_ul(self, points: Iterable[PointConditions], *, measurement_s: float = 30.0) -> dict[str, float]:
        """Volume (µL) each syringe must supply for ``points``, in order, from the reactor's state now.

        Follows :func:`~autolab.plans.set_conditions`: the pumps run at the standby flow
        (:meth:`standby_flow_rates`) while the heaters ramp and settle, then at the point's flow for
        the flush and ``measurement_s`` of acquisition. The seconds a pump takes to reach a new
        flow are not counted.

        Returns
        -------
        dict
            ``{"cd_pump": µL, "se_pump": µL}``.
        """
        standby = self.standby_flow_rates()
        need = dict.fromkeys(standby, 0.0)
        temps_now = (float(self.nucleation_heater.setpoint.get()), float(self.growth_oven.setpoint.get()))
        heaters = (self.nucleation_heater, self.growth_oven)
        for point in points:
            targets = (point.nucleation_temperature_c, point.growth_temperature_c)
            ramp_s = max(
                heater.estimate_settle_time_s(target, from_c=now)
                for heater, target, now in zip(heaters, targets, temps_now, strict=True)
            )
            flows = self.flow_rates_for(point.residence_time_s)
            run_s = self.flush_time_s(point.residence_time_s) + measurement_s
            for key in need:
                need[key] += (standby[key] * ramp_s + flows[key] * run_s) / 60.0
            temps_now = targets
        return need

    def check_reagents(
        self, points: Iterable[PointConditions], *, measurement_s: float = 30.0, full_syringes: bool = False
    ) -> None:
        """Raise :class:`LimitError` if the syringes cannot supply every point in ``points``.

        Parameters
        ----------
        points : iterable of PointConditions
            The points, in the order they will run.
        measurement_s : float
            Seconds of acquisition per point.
        full_syringes : bool
            Compare with full syringes (``syringe_volume_ul``) instead of what is left: whether
            the points can be run at all, after a refill.
        """
        points = list(points)
        for key, volume in self.reagent_need_ul(points, measurement_s=measurement_s).items():
            pump = getattr(self, key)
            signal = pump.syringe_volume_ul if full_syringes else pump.remaining_volume_ul
            available = float(signal.get())
            if volume > available:
                if full_syringes:
                    state = f"a full syringe of {available:.0f} µL"
                    advice = "use a larger syringe or a longer residence time"
                else:
                    state = f"{available:.0f} µL left"
                    advice = "refill the syringe or measure fewer points"
                msg = f"{pump.label} ({pump.name}) has {state} but {len(points)} point(s) need about {volume:.0f} µL; {advice}"
                raise LimitError(msg)


#: The keys of the config file's ``[reactor]`` table that set a built reactor (the twin or a
#: factory's), besides ``factory``, ``seed`` and ``time_scale``, which choose and build it.
REACTOR_SETTINGS = ("standby_flow_ul_min",)


def configure_reactor(reactor: FlowReactor, settings: Mapping[str, Any], *, source: str = "[reactor]") -> FlowReactor:
    """Apply the settings of a ``[reactor]`` table (:data:`REACTOR_SETTINGS`) to ``reactor``; return it.

    ``standby_flow_ul_min`` goes through :meth:`FlowReactor.set_standby_flow`. Other keys are
    left to whoever builds the reactor. ``source`` says where the table was read, for the message
    of a bad value (``AUTOLAB_CONFIG /path/autolab.toml [reactor]``).

    Raises
    ------
    LimitError
        Naming the setting, its value and the allowed values.

    Examples
    --------
    >>> from autolab.devices import configure_reactor, make_twin_reactor
    >>> configure_reactor(make_twin_reactor(), {"standby_flow_ul_min": 0}).standby_flow_ul_min.get()
    0.0
    """
    if "standby_flow_ul_min" in settings:
        reactor.set_standby_flow(settings["standby_flow_ul_min"], field=f"{source} standby_flow_ul_min")
    return reactor
