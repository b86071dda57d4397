"""Bluesky plans for the flow reactor.

Stubs (:func:`set_conditions`, :func:`wait_steady`, :func:`stop_flow`) do one step each;
plans (:func:`measure_point`, :func:`phase_map`, :func:`autonomous_campaign`) compose them into runs. Every parameter is
type-annotated so bluesky-queueserver can validate queue items.
"""

from .campaign import autonomous_campaign, record_analysis, run_campaign
from .stubs import safe_state, set_conditions, stop_flow, wait_steady
from .survey import measure_point, phase_map, point_metadata

__all__ = [
    "autonomous_campaign",
    "measure_point",
    "phase_map",
    "point_metadata",
    "record_analysis",
    "run_campaign",
    "safe_state",
    "set_conditions",
    "stop_flow",
    "wait_steady",
]
