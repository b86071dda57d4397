"""The in situ detectors: a UV-Vis flow-cell spectrometer and a Kapton flow-cell SAXS detector.

These are the interfaces: their axes (wavelengths, q) belong to the instrument and start empty; a
hardware subclass reads them from the instrument, and the twins
(:class:`~autolab.devices.twin.SimSpectrometer`, :class:`~autolab.devices.twin.SimSAXSDetector`)
get theirs from :func:`~autolab.devices.make_twin_reactor`.
"""

from __future__ import annotations

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device

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
    """UV-Vis spectrometer on the flow cell: wavelength axis (nm) and absorbance spectrum (AU).

    ``trigger()`` acquires one spectrum; ``read()`` returns the wavelength axis and the
    absorbance, each with its shape, units and dimension name (``wavelength_nm``) in ``describe()``.
    The axis is the instrument's (its pixels' wavelengths, nm): empty until the instrument, or the
    twin's builder, sets it; ``absorbance`` has its length.
    """

    wavelength_nm = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="nm", dims=(WAVELENGTH_DIM,))
    absorbance = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="AU", dims=(WAVELENGTH_DIM,))
    integration_time_s = Cpt(UnitSignal, value=0.1, kind="config", units="s")


class SAXSDetector(Device):
    """SAXS detector on the Kapton flow cell, azimuthally integrated: q (nm⁻¹), I(q), σ(q) (cm⁻¹).

    Each array's ``describe()`` names its dimension ``q_nm_inv``. The q axis is the integration's
    (its bins, nm⁻¹): empty until the instrument, or the twin's builder, sets it; ``intensity`` and
    ``intensity_sigma`` have its length.
    """

    q_nm_inv = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="1/nm", dims=(Q_DIM,))
    intensity = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="1/cm", dims=(Q_DIM,))
    intensity_sigma = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="1/cm", dims=(Q_DIM,))
    exposure_time_s = Cpt(UnitSignal, value=1.0, kind="config", units="s")
