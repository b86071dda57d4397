"""Bluesky plans for the flow reactor.

Stubs (:func:`set_conditions`, :func:`wait_steady`, :func:`stop_flow`) do one step each;
plans (:func:`measure_point`, :func:`phase_map`) compose them into runs; the calibration plans
(:func:`take_dark`, :func:`take_reference`, :func:`take_background`) store the detectors' dark,
reference and background in runs of their own; the closed loop that
drives them is :func:`autolab.campaign.autonomous_campaign`. Every parameter is
type-annotated so bluesky-queueserver can validate queue items.
"""

from .calibration import calibration_runs, take_background, take_dark, take_reference
from .stubs import safe_state, set_conditions, stop_flow, wait_steady
from .survey import measure_point, phase_map, point_metadata

__all__ = [
    "calibration_runs",
    "measure_point",
    "phase_map",
    "point_metadata",
    "safe_state",
    "set_conditions",
    "stop_flow",
    "take_background",
    "take_dark",
    "take_reference",
    "wait_steady",
]
