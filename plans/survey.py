"""Plans that measure points: one point per Bluesky run, and grids of them."""

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.utils import MsgGenerator

import autolab
from autolab.devices import FlowReactor, PointConditions
from autolab.errors import LimitError

from .calibration import calibration_runs
from .stubs import safe_state, set_conditions, stop_flow, wait_steady


def _readables(reactor: FlowReactor) -> list:
    return [
        reactor.spectrometer,
        reactor.saxs,
        reactor.nucleation_heater,
        reactor.growth_oven,
        reactor.cd_pump,
        reactor.se_pump,
        reactor.flush,
    ]


def extrapolated_because(reactor: FlowReactor, nucleation_temperature_c: float, growth_temperature_c: float,
                         residence_time_s: float) -> list[str] | None:
    """Why a twin reactor's result at this point is an extrapolation (``[]`` inside its validity
    domain), or None for a reactor that is no twin in this process and so measures, not extrapolates."""
    outside = getattr(reactor, "extrapolated_because", None)
    return None if outside is None else outside(nucleation_temperature_c, growth_temperature_c, residence_time_s)


def point_metadata(reactor: FlowReactor, point: PointConditions) -> dict[str, Any]:
    """Start-document metadata describing one point's conditions and the reactor.

    A simulated reactor (one with ``extrapolated_because``, :class:`~autolab.devices.twin.TwinFlowReactor`)
    adds ``extrapolated`` and ``extrapolated_because``: whether, and why, the point lies outside
    the twin's validity domain, as ``truth`` says it for :func:`autolab.sim.simulate`.
    """
    reasons = extrapolated_because(reactor, *_as_tuple(point))
    twin = {} if reasons is None else {"extrapolated": bool(reasons), "extrapolated_because": reasons}
    return {
        "conditions": {
            "nucleation_temperature_c": point.nucleation_temperature_c,
            "growth_temperature_c": point.growth_temperature_c,
            "residence_time_s": point.residence_time_s,
        },
        "nucleation_temperature_c": point.nucleation_temperature_c,
        "growth_temperature_c": point.growth_temperature_c,
        "residence_time_s": point.residence_time_s,
        "nucleation_time_s": reactor.nucleation_time_for(point.residence_time_s),
        "flow_rates_ul_min": reactor.flow_rates_for(point.residence_time_s),
        "standby_flow_ul_min": float(reactor.standby_flow_ul_min.get()),  # total while the heaters moved (0: stopped)
        "reactor": reactor.name,
        "reactor_class": type(reactor).__name__,
        "autolab_version": autolab.__version__,
        **twin,
    }


def measure_point(
    reactor: FlowReactor,
    nucleation_temperature_c: float,
    growth_temperature_c: float,
    residence_time_s: float,
    *,
    flush_volumes: float | None = None,
    md: dict[str, Any] | None = None,
) -> MsgGenerator[str]:
    """Measure one point: set conditions, wait for steady state, read UV-Vis and SAXS.

    Parameters
    ----------
    reactor : FlowReactor
        The reactor.
    nucleation_temperature_c, growth_temperature_c : float
        Heater setpoints, °C.
    residence_time_s : float
        Growth-oven residence time, s.
    flush_volumes : float, optional
        Reactor volumes to flush before reading (the reactor's default when omitted).
    md : dict, optional
        Caller's metadata, merged over autolab's in the start document.

    Yields
    ------
    msg : Msg
        One run: ``open_run``, the set/flush messages, one ``primary`` event with the
        spectrum, the SAXS pattern and the reactor readbacks, ``close_run``.

    Returns
    -------
    uid : str
        The run's uid.

    Notes
    -----
    Limits, reagents and the detectors' calibrations are checked before the first message; on a
    bad argument, or a detector without its dark, reference or background, nothing moves and no
    run is opened. The start document carries ``conditions`` (and each condition at top level for
    searching), flow rates, the chamber time, ``calibration_runs`` (the uids of the dark,
    reference and background runs the detectors reduce with, :func:`calibration_runs`) and the
    caller's ``md``.

    Examples
    --------
    >>> RE(measure_point(reactor, 280, 280, 14.0, md={"sample": "demo"}))  # doctest: +SKIP
    """
    point = reactor.check_conditions(nucleation_temperature_c, growth_temperature_c, residence_time_s)
    reactor.check_reagents([point])
    readables = _readables(reactor)
    _md = {
        "plan_name": "measure_point",
        "plan_args": {
            "reactor": repr(reactor.name),
            "nucleation_temperature_c": nucleation_temperature_c,
            "growth_temperature_c": growth_temperature_c,
            "residence_time_s": residence_time_s,
            "flush_volumes": flush_volumes,
        },
        "detectors": [reactor.spectrometer.name, reactor.saxs.name],
        "hints": {"dimensions": [(["time"], "primary")]},
        **point_metadata(reactor, point),
        "calibration_runs": calibration_runs(reactor),
    }
    _md.update(md or {})

    # Staged inside the run: unstaging resets the RunEngine's rewind cache before the run closes,
    # so a pause just after the close (a double Ctrl-C) replays none of the closed run's readings.
    @bpp.run_decorator(md=_md)
    @bpp.stage_decorator([reactor.spectrometer, reactor.saxs])
    def inner():
        yield from set_conditions(reactor, *_as_tuple(point))
        yield from wait_steady(reactor, flush_volumes=flush_volumes)
        yield from bps.trigger_and_read(readables)

    # A checkpoint between points: one Ctrl-C (the RunEngine's deferred pause) pauses here, with
    # no run open, and RE.abort() then ends the plan without a half-measured point.
    yield from bps.checkpoint()
    return (yield from inner())


def _as_tuple(point: PointConditions) -> tuple[float, float, float]:
    return point.nucleation_temperature_c, point.growth_temperature_c, point.residence_time_s


def phase_map(
    reactor: FlowReactor,
    nucleation_temperatures_c: Sequence[float],
    growth_temperatures_c: Sequence[float],
    residence_times_s: Sequence[float],
    *,
    growth_not_above_nucleation: bool = False,
    flush_volumes: float | None = None,
    md: dict[str, Any] | None = None,
) -> MsgGenerator[list[str]]:
    """Survey a grid of conditions, one run per point (Palencia et al. 2020, Fig. 1 style).

    Parameters
    ----------
    reactor : FlowReactor
        The reactor.
    nucleation_temperatures_c, growth_temperatures_c : sequence of float
        Heater setpoints to combine, °C.
    residence_times_s : sequence of float
        Residence times to combine, s.
    growth_not_above_nucleation : bool
        Skip points whose growth temperature exceeds the nucleation temperature, as in
        Palencia's Fig. 1 (each panel steps the growth temperature down from the nucleation one).
    flush_volumes : float, optional
        Reactor volumes to flush before each reading.
    md : dict, optional
        Metadata added to every point's start document.

    Yields
    ------
    msg : Msg
        One run per grid point, then ``set`` messages stopping both pumps.

    Returns
    -------
    uids : list of str
        The run uids, in measurement order.

    Notes
    -----
    Every grid point and the reagents for the whole map are checked before anything moves.
    Points are ordered nucleation temperature (outer), growth temperature, residence time
    (inner), so the slow heaters change least often. Each start document has
    ``phase_map_uid``, ``point_index`` and ``grid_shape``; the pumps are stopped at the end;
    when the map fails or is aborted, :func:`safe_state` also sends the heaters to 25 °C.

    Examples
    --------
    >>> RE(phase_map(reactor, [260, 280, 300], [260, 280], [4.5, 14.0]))  # doctest: +SKIP
    """
    grid = [list(values) for values in (nucleation_temperatures_c, growth_temperatures_c, residence_times_s)]
    for field, values in zip(
        ("nucleation_temperatures_c", "growth_temperatures_c", "residence_times_s"), grid, strict=True
    ):
        if not values:
            msg = f"{field} is empty; give at least one value"
            raise LimitError(msg)
    points = [
        reactor.check_conditions(t_nuc, t_growth, residence)
        for t_nuc, t_growth, residence in itertools.product(*grid)
        if not (growth_not_above_nucleation and t_growth > t_nuc)
    ]
    reactor.check_reagents(points)
    map_uid = str(uuid.uuid4())
    shape = [len(values) for values in grid]

    def inner():
        uids = []
        for index, point in enumerate(points):
            point_md = {"phase_map_uid": map_uid, "point_index": index, "n_points": len(points), "grid_shape": shape}
            point_md.update(md or {})
            uid = yield from measure_point(reactor, *_as_tuple(point), flush_volumes=flush_volumes, md=point_md)
            uids.append(uid)
        return uids

    return (yield from bpp.contingency_wrapper(inner(), except_plan=lambda exc: safe_state(reactor), else_plan=lambda: stop_flow(reactor)))
