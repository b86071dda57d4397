"""The state of a simulated reaction: species concentrations at the end of a run of the kinetics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autolab.materials import MSC_FAMILIES, MSC_SAXS_DIAMETER_NM, aggregation_number

__all__ = ["KineticState"]


@dataclass(frozen=True)
class KineticState:
    """Concentrations at the end of a simulated reaction.

    Attributes
    ----------
    precursor_mm, monomer_mm : float
        Unreacted precursor and free monomer, mM of CdSe units.
    msc_mm : dict[str, float]
        Concentration of each MSC family, mM of clusters.
    nc_radius_nm : ndarray
        Centres of the NC radius classes, nm.
    nc_mm : ndarray
        Number concentration of NCs in each radius class, mM of particles.
    precursor0_mm : float
        CdSe units available at the start (the limiting precursor), mM.
    """

    precursor_mm: float
    monomer_mm: float
    msc_mm: dict[str, float]
    nc_radius_nm: np.ndarray
    nc_mm: np.ndarray
    precursor0_mm: float
    mesophase_order: float = 0.0
    """Fraction of the unreacted Cd precursor held in the lamellar mesophase (0–1)."""
    cd_excess_mm: float = 0.0
    """Cd precursor beyond the limiting amount (a Cd excess over Se), mM; it never reacts."""

    @property
    def cd_precursor_mm(self) -> float:
        """Unreacted Cd precursor, mM: the limiting share left plus any excess (what scatters as
        the Cd precursor and forms the mesophase, Palencia 2020 Fig. 3)."""
        return self.precursor_mm + self.cd_excess_mm

    def mixed_with(self, other: KineticState, fraction_other: float) -> KineticState:
        """The mixture of ``(1 − f)`` parts of this state and ``f`` parts of ``other``.

        Concentrations mix linearly, as they do in a flow cell fed first by one product and then
        by the next; both states must share the NC radius grid.
        """
        f = float(fraction_other)
        ordered = (1 - f) * self.cd_precursor_mm * self.mesophase_order + f * other.cd_precursor_mm * other.mesophase_order
        cd_precursor = (1 - f) * self.cd_precursor_mm + f * other.cd_precursor_mm
        precursor = (1 - f) * self.precursor_mm + f * other.precursor_mm
        return KineticState(
            precursor_mm=precursor,
            monomer_mm=(1 - f) * self.monomer_mm + f * other.monomer_mm,
            msc_mm={k: (1 - f) * v + f * other.msc_mm[k] for k, v in self.msc_mm.items()},
            nc_radius_nm=self.nc_radius_nm,
            nc_mm=(1 - f) * self.nc_mm + f * other.nc_mm,
            precursor0_mm=(1 - f) * self.precursor0_mm + f * other.precursor0_mm,
            mesophase_order=ordered / cd_precursor if cd_precursor > 0 else 0.0,
            cd_excess_mm=(1 - f) * self.cd_excess_mm + f * other.cd_excess_mm,
        )

    @property
    def nc_total_mm(self) -> float:
        """Total NC number concentration, mM of particles."""
        return float(self.nc_mm.sum())

    @property
    def nc_mean_diameter_nm(self) -> float:
        """Number-weighted mean NC diameter, nm (NaN without NCs)."""
        total = self.nc_mm.sum()
        if total <= 1e-12:
            return float("nan")
        return float(2.0 * (self.nc_mm * self.nc_radius_nm).sum() / total)

    @property
    def nc_size_dispersion(self) -> float:
        """Relative standard deviation σ_d / ⟨d⟩ of the NC diameters (NaN without NCs)."""
        total = self.nc_mm.sum()
        if total <= 1e-12:
            return float("nan")
        mean = (self.nc_mm * self.nc_radius_nm).sum() / total
        var = (self.nc_mm * (self.nc_radius_nm - mean) ** 2).sum() / total
        return float(np.sqrt(max(var, 0.0)) / mean)

    @property
    def units_in_msc_mm(self) -> float:
        """CdSe units bound in MSCs, mM."""
        return float(sum(self.msc_mm[name] * units for name, _, units in MSC_FAMILIES))

    @property
    def units_in_nc_mm(self) -> float:
        """CdSe units bound in NCs, mM."""
        return float((self.nc_mm * aggregation_number(2.0 * self.nc_radius_nm)).sum())

    def scatterers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SAXS radii (nm), CdSe units per particle and number concentrations (mM) of every particle.

        MSCs at the family's SAXS size (Palencia 2020), then the NC radius classes.
        """
        names = [name for name, _, _ in MSC_FAMILIES]
        radii = np.array([MSC_SAXS_DIAMETER_NM[name] / 2.0 for name in names])
        units = np.array([n for _, _, n in MSC_FAMILIES], dtype=float)
        clusters = np.array([self.msc_mm[name] for name in names])
        return (
            np.concatenate([radii, self.nc_radius_nm]),
            np.concatenate([units, aggregation_number(2.0 * self.nc_radius_nm)]),
            np.concatenate([clusters, self.nc_mm]),
        )

    @property
    def yield_fraction(self) -> float:
        """Fraction of the precursor converted into solid CdSe (MSCs and NCs); 0 for pure solvent (no precursor)."""
        if self.precursor0_mm <= 0.0:
            return 0.0
        return (self.units_in_msc_mm + self.units_in_nc_mm) / self.precursor0_mm
