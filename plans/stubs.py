"""Reusable steps of a flow-reactor experiment, in the shape of ``bluesky.plan_stubs``.

Each stub validates its arguments against the reactor's limits before yielding its first
message, so a bad value raises :class:`~autolab.errors.LimitError` and nothing moves.
"""

from bluesky import plan_stubs as bps
from bluesky.utils import MsgGenerator

from autolab.devices import FlowReactor
from autolab.errors import LimitError


def set_conditions(
    reactor: FlowReactor,
    nucleation_temperature_c: float,
    growth_temperature_c: float,
    residence_time_s: float,
) -> MsgGenerator[None]:
    """Move both heaters and both pumps to one point's conditions and wait for them.

    Parameters
    ----------
    reactor : FlowReactor
        The reactor (a twin or the real one).
    nucleation_temperature_c : float
        Nucleation chamber setpoint, °C.
    growth_temperature_c : float
        Growth oven setpoint, °C.
    residence_time_s : float
        Growth-oven residence time, s; converted to pump flow rates by the reactor's geometry.

    Yields
    ------
    msg : Msg
        ``set`` and ``wait`` for both pumps (standby flow), for both heaters, then for both
        pumps again (the point's flow).

    Notes
    -----
    A flow reactor does not run its point flow while the temperatures change: the pumps first go
    to the reactor's standby flow (``reactor.standby_flow_ul_min``, split like the point's flow;
    0 stops them), the heaters move, and their statuses finish only once settled; then the pumps
    go to the point's flow. :meth:`~autolab.devices.FlowReactor.reagent_need_ul` counts this
    sequence (not the few seconds a pump takes to reach a new flow). The product at the flow cell still needs a flush (:func:`wait_steady`).

    Examples
    --------
    >>> RE(set_conditions(reactor, 280, 280, 14.0))  # doctest: +SKIP
    """
    point = reactor.check_conditions(nucleation_temperature_c, growth_temperature_c, residence_time_s)
    standby = reactor.standby_flow_rates()
    flows = reactor.flow_rates_for(point.residence_time_s)
    yield from bps.mv(reactor.cd_pump, standby["cd_pump"], reactor.se_pump, standby["se_pump"])
    yield from bps.mv(
        reactor.nucleation_heater,
        point.nucleation_temperature_c,
        reactor.growth_oven,
        point.growth_temperature_c,
    )
    yield from bps.mv(reactor.cd_pump, flows["cd_pump"], reactor.se_pump, flows["se_pump"])


def wait_steady(reactor: FlowReactor, *, flush_volumes: float | None = None) -> MsgGenerator[None]:
    """Wait until the heaters have settled and enough reactor volumes have flushed.

    Parameters
    ----------
    reactor : FlowReactor
        The reactor.
    flush_volumes : float, optional
        Reactor volumes (chamber + oven + transfer line) to flush after the last change of
        conditions; the reactor's ``flush.required_volumes`` (3 by default) when omitted.

    Yields
    ------
    msg : Msg
        Optionally a ``set`` of ``flush.required_volumes``, then ``trigger`` and ``wait`` on the
        reactor's flush monitor.
    """
    if flush_volumes is not None:
        if not 0 < float(flush_volumes) <= 100:
            msg = f"flush_volumes={flush_volumes!r} is outside the allowed range 0–100 reactor volumes"
            raise LimitError(msg)
        yield from bps.mv(reactor.flush.required_volumes, float(flush_volumes))
    yield from bps.trigger(reactor.flush, wait=True)


def stop_flow(reactor: FlowReactor) -> MsgGenerator[None]:
    """Stop both pumps (flow 0 µL/min) and wait until they have stopped."""
    yield from bps.mv(reactor.cd_pump, 0.0, reactor.se_pump, 0.0)


def safe_state(reactor: FlowReactor, safe_temperature_c: float = 25.0) -> MsgGenerator[None]:
    """Leave the reactor safe: pumps stopped (waited for), both heaters sent to a safe setpoint.

    Parameters
    ----------
    reactor : FlowReactor
        The reactor.
    safe_temperature_c : float
        Heater setpoint, °C (default 25 °C, room temperature); checked against each heater's range.

    Yields
    ------
    msg : Msg
        ``set``/``wait`` stopping both pumps, then ``set`` of both heaters without waiting for
        them to cool (cooling from 300 °C takes minutes; nothing flows meanwhile).

    Notes
    -----
    Campaigns and phase maps run this when they fail or are aborted (``RE.abort()``), so an
    interrupted experiment never leaves reagent flowing through a hot reactor.
    """
    for heater in (reactor.nucleation_heater, reactor.growth_oven):
        heater.check_value(safe_temperature_c, "safe_temperature_c")
    yield from stop_flow(reactor)
    yield from bps.abs_set(reactor.nucleation_heater, safe_temperature_c, group="safe_state")
    yield from bps.abs_set(reactor.growth_oven, safe_temperature_c, group="safe_state")
