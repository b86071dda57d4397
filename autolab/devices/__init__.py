"""ophyd devices of the flow reactor and their simulated twins.

Interfaces (:class:`SyringePump`, :class:`Heater`, :class:`Spectrometer`, :class:`SAXSDetector`,
:class:`FlowReactor`) define the signals a plan may read or set and import nothing of the twin's
physics; the ``Sim*`` twins implement them, the detectors and the flow cell on :mod:`autolab.sim`
(:mod:`autolab.devices.twin`). Build a simulated reactor with :func:`make_twin_reactor`, which
hands the twins their physics.
"""

from .clock import SimClock
from .detectors import SAXSDetector, Spectrometer
from .heater import Heater, SimHeater
from .pump import SimSyringePump, SyringePump
from .reactor import REACTOR_SETTINGS, FlowReactor, FlushMonitor, PointConditions, configure_reactor
from .twin import SimFlushMonitor, SimSAXSDetector, SimSpectrometer, TwinFlowReactor, make_twin_reactor, washout_fraction

__all__ = [
    "REACTOR_SETTINGS",
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
    "configure_reactor",
    "make_twin_reactor",
    "washout_fraction",
]
