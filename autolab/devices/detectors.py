"""The in situ detectors: a UV-Vis flow-cell spectrometer and a Kapton flow-cell SAXS detector."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus

from autolab import sim

from ._twin import TwinMixin
from .signals import UnitSignal

#: Dimension names of the detectors' arrays, as their ``describe()`` gives them.
WAVELENGTH_DIM = "wavelength_nm"
Q_DIM = "q_nm_inv"


class AxisSignal(UnitSignal):
    """A 1-D array signal whose ``describe()`` also names its dimension (``dims``).

    With the dimension named, tiled and xarray show ``run.primary.read()`` with dims such as
    ``wavelength_nm`` instead of ``dim_int_1``, shared by the axis and the arrays measured on it.
    """

    def __init__(self, *args, dims: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.dims = tuple(dims)

    def describe(self):
        desc = super().describe()
        desc[self.name]["dims"] = list(self.dims)
        return desc


class Spectrometer(Device):
    """UV-Vis spectrometer on the flow cell: wavelength axis (nm) and absorbance spectrum.

    ``trigger()`` acquires one spectrum; ``read()`` returns the wavelength axis and the
    absorbance, each with its shape, units and dimension name (``wavelength_nm``) in ``describe()``.
    """

    wavelength_nm = Cpt(AxisSignal, value=sim.DEFAULT_WAVELENGTH_NM.copy(), kind="normal", units="nm", dims=(WAVELENGTH_DIM,))
    absorbance = Cpt(AxisSignal, value=np.zeros_like(sim.DEFAULT_WAVELENGTH_NM), kind="normal", units="AU", dims=(WAVELENGTH_DIM,))
    integration_time_s = Cpt(UnitSignal, value=0.1, kind="config", units="s")


class SAXSDetector(Device):
    """SAXS detector on the Kapton flow cell, azimuthally integrated: q (nm⁻¹), I(q), σ(q) (cm⁻¹).

    Each array's ``describe()`` names its dimension ``q_nm_inv``.
    """

    q_nm_inv = Cpt(AxisSignal, value=sim.DEFAULT_Q_NM_INV.copy(), kind="normal", units="1/nm", dims=(Q_DIM,))
    intensity = Cpt(AxisSignal, value=np.zeros_like(sim.DEFAULT_Q_NM_INV), kind="normal", units="1/cm", dims=(Q_DIM,))
    intensity_sigma = Cpt(AxisSignal, value=np.zeros_like(sim.DEFAULT_Q_NM_INV), kind="normal", units="1/cm", dims=(Q_DIM,))
    exposure_time_s = Cpt(UnitSignal, value=1.0, kind="config", units="s")


class _TwinDetectorMixin(TwinMixin):
    """Acquire from a ``sample()`` callable (the twin flow cell) after the exposure time."""

    def _init_detector(self, clock, rng, sample: Callable[[], sim.KineticState] | None):
        self._init_twin(clock, rng)
        parent = getattr(self, "parent", None)
        self._sample = sample if sample is not None else getattr(parent, "sample_at_flow_cell", None)
        if self._sample is None:
            msg = f"{type(self).__name__} needs sample= (a callable returning the flow-cell state)"
            raise TypeError(msg)

    def _acquire(self, exposure_s: float, store) -> DeviceStatus:
        status = DeviceStatus(self)
        state = self._sample()
        now = self.clock.now()

        def finish():
            store(state)
            status.set_finished()

        self.clock.finish_at(now + exposure_s, finish)
        return status


class SimSpectrometer(_TwinDetectorMixin, Spectrometer):
    """Twin spectrometer: the sim's absorbance of the flow-cell content plus detector noise."""

    def __init__(self, prefix="", *, name, clock=None, rng=None, sample=None, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_detector(clock, rng, sample)

    def trigger(self) -> DeviceStatus:
        integration = float(self.integration_time_s.get())

        def store(state):
            clean = sim.optics.absorbance(state, self.wavelength_nm.get())
            self.absorbance.put(sim.optics.add_detector_noise(clean, self.rng, integration))

        return self._acquire(integration, store)


class SimSAXSDetector(_TwinDetectorMixin, SAXSDetector):
    """Twin SAXS detector: the sim's I(q) of the flow-cell content with Poisson counting noise."""

    def __init__(self, prefix="", *, name, clock=None, rng=None, sample=None, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_detector(clock, rng, sample)

    def trigger(self) -> DeviceStatus:
        exposure = float(self.exposure_time_s.get())

        def store(state):
            clean = sim.scattering.intensity(state, self.q_nm_inv.get())
            measured, sigma = sim.scattering.add_counting_noise(clean, self.rng, exposure)
            self.intensity.put(measured)
            self.intensity_sigma.put(sigma)

        return self._acquire(exposure, store)
