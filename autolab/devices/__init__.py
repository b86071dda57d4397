"""ophyd devices of the flow reactor and their simulated twins.

Interfaces (:class:`SyringePump`, :class:`Heater`, :class:`Spectrometer`, :class:`SAXSDetector`,
:class:`FlowReactor`) define the signals a plan may read or set; the ``Sim*`` twins implement
them on :mod:`autolab.sim`. Build a simulated reactor with :func:`make_twin_reactor`.
"""

from .clock import SimClock
from .detectors import SAXSDetector, SimSAXSDetector, SimSpectrometer, Spectrometer
from .heater import Heater, SimHeater
from .pump import SimSyringePump, SyringePump
from .reactor import FlowReactor, FlushMonitor, PointConditions
from .twin import SimFlushMonitor, TwinFlowReactor, make_twin_reactor, washout_fraction

__all__ = [
    "FlowReactor",
    "FlushMonitor",
    "Heater",
    "PointConditions",
    "SAXSDetector",
    "SimClock",
    "SimFlushMonitor",
    "SimHeater",
    "SimSAXSDetector",
    "SimSpectrometer",
    "SimSyringePump",
    "Spectrometer",
    "SyringePump",
    "TwinFlowReactor",
    "make_twin_reactor",
    "washout_fraction",
]
