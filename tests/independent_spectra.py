"""UV-Vis spectra of CdSe clusters and nanocrystals made without autolab's twin or plugins.

A validation set for ``autolab.plugins.uvvis`` (issue 18): numpy only, nothing imported from
``autolab``, and physics deliberately unlike the twin's (``autolab.sim.optics``), so that an
analysis that inverts the twin's forward model cannot pass by construction.

What differs from the twin
--------------------------
- **NC transitions**: a Norris–Bawendi-like ladder (Norris & Bawendi, Phys. Rev. B 1996, 53,
  16338) per size class — 1S(e)-1S3/2, 1S(e)-2S3/2, 1S(e)-1S1/2 (spin-orbit) and 1P(e)-1P3/2 —
  with splittings that grow with the confinement energy E₁ − E_g, instead of the twin's one second
  transition at a fixed +0.20 eV.
- **Line shapes**: pseudo-Voigt homogeneous lines (Thompson–Cox–Hastings mixing of a Gaussian and
  a Lorentzian), unit area in energy, widths growing up the ladder; the twin uses Gaussians.
- **Strengths**: per particle the 1S oscillator strength grows as d², the continuum as d³
  (volume); the twin uses the Yu 2003 peak extinction ε ∝ d^2.65.
- **Continuum**: linear in E above an onset with a logistic edge; the twin's rises as √(E − E_c).
- **Sizes**: a Gaussian or a log-normal size distribution, 61 classes over ±3.5σ.
- **Clusters (MSCs)**: split (asymmetric) pseudo-Voigt bands, broader on the blue side, with
  Lorentzian tails, 8–13 nm FWHM, up to ±1.5 nm from the family's nominal position, and a smooth
  UV rise (linear with a logistic edge 0.35 eV up); the twin uses symmetric 10 nm Gaussians with
  two Gaussian higher resonances.
- **Baseline**: offset + λ⁻⁴ (Rayleigh) + λ⁻¹ (large-particle turbidity) scattering.
- **Grids** 0.5–2 nm over different ranges; Gaussian noise 0.001–0.005 AU.

Ground truth (computed from the generated noise-free spectrum, never from the parameters)
--------------------------------------------------------------------------------------------
- ``exciton_nm``: the first excitonic absorption maximum *of the NC component as it appears in
  its spectrum* — N(λ), the sum of every NC transition and the NC continuum, noise-free, without
  the clusters and the scattering baseline (what the field reads off an NC spectrum and what Yu
  et al. 2003 calibrated their sizing curve against). On a 0.01 nm grid: the longest-wavelength
  local maximum of N. Where the first transition is only a shoulder on the rising higher
  transitions (N has no maximum there), the shoulder's flattest point: the longest-wavelength
  local maximum of dN/dλ, whose value is then negative. The two cases join continuously: as the
  shoulder sharpens, that local maximum of dN/dλ reaches zero and becomes the maximum of N. The
  feature must lie within 0.12 eV of the strongest size class's 1S energy (asserted), so that the
  rule can never pick the second transition.
- ``diameter_nm``: the Yu et al. 2003 curve (Chem. Mater. 2003, 15, 2854) at ``exciton_nm``,
  written out here: D = 1.6122e-9 λ⁴ − 2.6575e-6 λ³ + 1.6242e-3 λ² − 0.4277 λ + 41.57.
- ``families``: the cluster families generated (each well above the noise: see ``CASES``).
- ``dispersion``: σ_d/⟨d⟩ of the generated size distribution (a parameter, for information).

Use
---
>>> from tests.independent_spectra import CASES, spectrum
>>> lam, a, truth = spectrum(CASES["isolated_3.0nm"], seed=0)
>>> round(truth["exciton_nm"]) in range(540, 560), truth["families"]
(True, set())
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

HC_EV_NM = 1239.84198
#: Bulk CdSe band gap at room temperature, eV.
BULK_GAP_EV = 1.74
#: Yu, Qu, Guo & Peng, Chem. Mater. 2003, 15, 2854: D(nm) from the first excitonic maximum λ (nm).
YU_2003_COEFFS = (1.6122e-9, -2.6575e-6, 1.6242e-3, -0.4277, 41.57)
#: MSC families, nominal absorption maximum in nm (Palencia et al., Nanoscale 2020, 12, 22928, Fig. 4).
FAMILIES_NM = {"CdSe-350": 350.0, "CdSe-380": 380.0, "CdSe-403": 403.0, "CdSe-437": 437.0, "CdSe-465": 465.0}


def yu_diameter_nm(wavelength_nm):
    """Yu 2003 diameter (nm) of CdSe NCs whose first excitonic maximum is at ``wavelength_nm``."""
    return np.polyval(YU_2003_COEFFS, np.asarray(wavelength_nm, dtype=float))


def yu_wavelength_nm(diameter_nm):
    """The Yu 2003 curve inverted by bisection on 300–750 nm, where it rises monotonically."""
    d = np.asarray(diameter_nm, dtype=float)
    low, high = np.full(d.shape, 300.0), np.full(d.shape, 750.0)
    for _ in range(50):
        mid = 0.5 * (low + high)
        above = yu_diameter_nm(mid) > d
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    return 0.5 * (low + high)


def pseudo_voigt(x, centre, fwhm_gauss, fwhm_lorentz):
    """Unit-area pseudo-Voigt (Thompson, Cox & Hastings, J. Appl. Cryst. 1987, 20, 79)."""
    fg, fl = fwhm_gauss, fwhm_lorentz
    f = (fg**5 + 2.69269 * fg**4 * fl + 2.42843 * fg**3 * fl**2 + 4.47163 * fg**2 * fl**3 + 0.07842 * fg * fl**4 + fl**5) ** 0.2
    r = fl / f
    eta = 1.36603 * r - 0.47719 * r**2 + 0.11116 * r**3
    u = x - centre
    gauss = np.sqrt(4 * np.log(2) / np.pi) / f * np.exp(-4 * np.log(2) * (u / f) ** 2)
    lorentz = (f / (2 * np.pi)) / (u**2 + (f / 2) ** 2)
    return eta * lorentz + (1 - eta) * gauss


#: Continuum absorbance at 350 nm per nm³ of particle, relative to the 1S line's unit area per nm^2.3.
CONTINUUM_PER_1S = 15.0


def _logistic(x, width):
    return 0.5 * (1.0 + np.tanh(x / (2.0 * width)))


def _softplus(x, width):
    """A ramp with a soft edge of ``width``: ≈ x well above 0, ≈ 0 well below."""
    return width * np.logaddexp(0.0, x / width)


@dataclass(frozen=True)
class Nanocrystals:
    """An NC ensemble: mean diameter (nm), σ_d/⟨d⟩, distribution, and the height of its 1S band (AU)."""

    mean_diameter_nm: float
    dispersion: float = 0.07
    first_band_au: float = 0.08
    distribution: str = "gaussian"  # or "lognormal"
    homogeneous_fwhm_gauss_ev: float = 0.05
    homogeneous_fwhm_lorentz_ev: float = 0.025
    #: Continuum strength relative to the 1S band (per particle ∝ d³ against d² for the 1S).
    continuum_ratio: float = 1.0


@dataclass(frozen=True)
class Case:
    """One spectrum to generate: NCs (or None), clusters {family: band height AU}, baseline, grid, noise."""

    nc: Nanocrystals | None = None
    clusters: dict = field(default_factory=dict)
    cluster_fwhm_nm: float = 10.0
    cluster_shift_nm: float = 0.0
    offset_au: float = 0.002
    rayleigh_au_at_400nm: float = 0.005
    turbidity_au_at_400nm: float = 0.0
    grid_nm: tuple = (300.0, 700.0, 1.0)
    noise_au: float = 0.002


def nc_component(nc: Nanocrystals, wavelength_nm: np.ndarray, *, first_only: bool = False):
    """Noise-free NC absorbance N(λ) (AU) and the 1S energy of the strongest class (eV).

    Each size class: the 1S(e)-1S3/2 line (strength ∝ d²), the Norris–Bawendi-like ladder above it
    and a linear continuum (∝ d³); classes weighted by the size distribution. The whole is scaled
    so that the 1S band alone (``first_only``) peaks at ``nc.first_band_au``.
    """
    z = np.linspace(-3.5, 3.5, 61)
    if nc.distribution == "lognormal":
        s = np.sqrt(np.log(1 + nc.dispersion**2))
        d = nc.mean_diameter_nm / np.sqrt(1 + nc.dispersion**2) * np.exp(s * z)
    else:
        d = nc.mean_diameter_nm * (1 + nc.dispersion * z)
    weight = np.exp(-0.5 * z**2)
    energy = HC_EV_NM / np.asarray(wavelength_nm, dtype=float)[None, :]
    e1 = (HC_EV_NM / yu_wavelength_nm(d))[:, None]
    confinement = e1 - BULK_GAP_EV
    fg, fl = nc.homogeneous_fwhm_gauss_ev, nc.homogeneous_fwhm_lorentz_ev
    per_class = (d**2.3)[:, None] * pseudo_voigt(energy, e1, fg, fl)
    if not first_only:
        # (splitting eV, relative strength, width factor): 1S(e)-2S3/2, 1S(e)-1S1/2, 1P(e)-1P3/2.
        ladder = ((0.06 + 0.18 * confinement, 0.25, 1.4), (0.30 + 0.25 * confinement, 0.45, 2.0), (0.30 + 0.55 * confinement, 0.8, 2.6))
        for splitting, strength, widen in ladder:
            per_class = per_class + strength * (d**2.3)[:, None] * pseudo_voigt(energy, e1 + splitting, widen * fg, widen * fl)
        # Linear above an onset 0.25 eV up with a soft (softplus) edge; per particle ∝ d³ (volume)
        # at 350 nm, where the absorption per CdSe unit is bulk-like.
        onset = e1 + 0.25
        continuum = _softplus(energy - onset, 0.08) / _softplus(HC_EV_NM / 350.0 - onset, 0.08)
        per_class = per_class + nc.continuum_ratio * CONTINUUM_PER_1S * (d**3)[:, None] * continuum
    total = weight @ per_class
    peak_class = int(np.argmax(weight * d**2.3))
    scale = nc.first_band_au / _first_band_peak(nc, weight, d, fg, fl)
    return scale * total, float(e1[peak_class, 0])


def _first_band_peak(nc, weight, d, fg, fl) -> float:
    fine = np.linspace(HC_EV_NM / 800.0, HC_EV_NM / 380.0, 4000)[None, :]
    e1 = (HC_EV_NM / yu_wavelength_nm(d))[:, None]
    return float((weight @ ((d**2.3)[:, None] * pseudo_voigt(fine, e1, fg, fl))).max())


def cluster_band(wavelength_nm, position_nm, height_au, fwhm_nm, *, blue_to_red=1.35, lorentz_fraction=0.3):
    """An MSC band: split pseudo-Voigt in energy (blue half broader), height ``height_au`` at ``position_nm``, plus its UV rise."""
    energy = HC_EV_NM / np.asarray(wavelength_nm, dtype=float)
    e0 = HC_EV_NM / position_nm
    half_ev = 0.5 * HC_EV_NM * fwhm_nm / position_nm**2 * 2 / (1 + blue_to_red)  # red half-width; FWHM = red + blue halves
    half = np.where(energy >= e0, blue_to_red * half_ev, half_ev)
    u = (energy - e0) / half
    shape = lorentz_fraction / (1 + u**2) + (1 - lorentz_fraction) * np.exp(-np.log(2) * u**2)
    rise_onset = e0 + 0.35
    rise = 0.6 * (energy - rise_onset) / 0.3 * _logistic(energy - rise_onset, 0.08)
    return height_au * (shape + rise)


def spectrum(case: Case, seed: int = 0):
    """``(wavelength_nm, absorbance, truth)`` for ``case`` with noise from ``seed``; see the module docstring."""
    start, stop, step = case.grid_nm
    lam = np.arange(start, stop + step / 2, step)
    rng = np.random.default_rng(seed)
    a = case.offset_au + case.rayleigh_au_at_400nm * (400.0 / lam) ** 4 + case.turbidity_au_at_400nm * (400.0 / lam)
    shifts = rng.uniform(-case.cluster_shift_nm, case.cluster_shift_nm, len(FAMILIES_NM))
    for (name, nominal), shift in zip(FAMILIES_NM.items(), shifts, strict=True):
        if name in case.clusters:
            a = a + cluster_band(lam, nominal + shift, case.clusters[name], case.cluster_fwhm_nm)
    truth = {"families": set(case.clusters), "exciton_nm": None, "diameter_nm": None, "dispersion": None}
    if case.nc is not None:
        a = a + nc_component(case.nc, lam)[0]
        exciton = nc_exciton_truth(case.nc, float(lam[0]), float(lam[-1]))
        truth.update(exciton_nm=exciton, diameter_nm=float(yu_diameter_nm(exciton)), dispersion=case.nc.dispersion)
    return lam, a + rng.normal(0.0, case.noise_au, lam.size), truth


@lru_cache(maxsize=256)
def nc_exciton_truth(nc: Nanocrystals, first_nm: float = 300.0, last_nm: float = 750.0) -> float:
    """The NC component's own first excitonic maximum (or the flattest point of its shoulder), nm.

    Located on a 0.1 nm grid over the spectrum's range (red of 380 nm), then again on a 0.002 nm
    grid within ±3 nm of that answer.
    """
    coarse = np.arange(max(first_nm, 380.0), last_nm, 0.1)
    n, e1_strongest = nc_component(nc, coarse)
    guess = first_excitonic_maximum(coarse, n, near_nm=HC_EV_NM / e1_strongest)
    fine = np.arange(guess - 3.0, guess + 3.0, 0.002)
    slope = np.gradient(nc_component(nc, fine)[0], fine)
    crossings = np.flatnonzero((slope[:-1] >= 0) & (slope[1:] < 0))
    if crossings.size:  # a true maximum: the zero crossing of dN/dλ nearest the coarse answer
        i = crossings[np.argmin(np.abs(fine[crossings] - guess))]
        return float(fine[i] + (fine[i + 1] - fine[i]) * slope[i] / (slope[i] - slope[i + 1]))
    return float(fine[np.argmax(slope)])  # a shoulder: its flattest point


def first_excitonic_maximum(wavelength_nm, absorbance, *, near_nm: float | None = None) -> float:
    """The longest-wavelength maximum of a smooth spectrum, or its longest-wavelength shoulder's flattest point.

    ``absorbance`` must be smooth (noise-free) on a fine uniform grid. A local maximum of dA/dλ at
    or above zero means a true maximum just red of it (the zero crossing of dA/dλ); below zero it
    is a shoulder, located at that point. ``near_nm``: assert the answer lies within 0.12 eV of it.
    """
    lam = np.asarray(wavelength_nm, dtype=float)
    slope = np.gradient(np.asarray(absorbance, dtype=float), lam)
    inner = np.flatnonzero((slope[1:-1] > slope[:-2]) & (slope[1:-1] >= slope[2:])) + 1
    if inner.size == 0:
        msg = "no maximum or shoulder in the spectrum"
        raise ValueError(msg)
    top = inner[-1]
    if slope[top] >= 0:
        after = top + np.flatnonzero(slope[top:] < 0)[0]
        before = after - 1
        answer = lam[before] + (lam[after] - lam[before]) * slope[before] / (slope[before] - slope[after])
    else:
        answer = lam[top]
    answer = float(answer)
    if near_nm is not None and abs(HC_EV_NM / answer - HC_EV_NM / near_nm) > 0.12:
        msg = f"the feature found at {answer:.1f} nm is not the 1S band near {near_nm:.1f} nm"
        raise AssertionError(msg)
    return answer


def nc_for_exciton(exciton_nm: float, **nc_options) -> Nanocrystals:
    """An NC ensemble whose own first excitonic maximum is at ``exciton_nm`` (bisection on the mean diameter)."""
    low, high = 1.6, 8.0
    coarse = np.arange(380.0, 750.0, 0.25)
    for _ in range(24):
        mid = 0.5 * (low + high)
        n, e1 = nc_component(Nanocrystals(mid, **nc_options), coarse)
        if first_excitonic_maximum(coarse, n, near_nm=HC_EV_NM / e1) > exciton_nm:
            high = mid
        else:
            low = mid
    return Nanocrystals(0.5 * (low + high), **nc_options)


LADDER = {"CdSe-380": 0.06, "CdSe-403": 0.12, "CdSe-437": 0.2, "CdSe-465": 0.08}

#: The validation set. Cluster bands ≥ 0.03 AU (≥ 10× the noise); NC 1S bands from 0.02 AU (weak,
#: beside 0.2–0.3 AU clusters) to 0.15 AU. Names say what each case stands for.
CASES: dict[str, Case] = {
    # Isolated NCs, 2–5 nm, Gaussian and log-normal distributions, three grids.
    "isolated_2.0nm": Case(Nanocrystals(2.0, 0.06, 0.08), noise_au=0.001),
    "isolated_2.2nm": Case(Nanocrystals(2.2, 0.08, 0.06), grid_nm=(300.0, 700.0, 0.5), noise_au=0.003),
    "isolated_2.6nm": Case(Nanocrystals(2.6, 0.10, 0.05, "lognormal"), turbidity_au_at_400nm=0.02, noise_au=0.002),
    "isolated_3.0nm": Case(Nanocrystals(3.0, 0.07, 0.08), grid_nm=(320.0, 750.0, 2.0), noise_au=0.003),
    "isolated_3.6nm": Case(Nanocrystals(3.6, 0.05, 0.10), rayleigh_au_at_400nm=0.03, noise_au=0.005),
    "isolated_4.2nm": Case(Nanocrystals(4.2, 0.06, 0.12, "lognormal"), grid_nm=(350.0, 800.0, 1.0), noise_au=0.002),
    "isolated_5.0nm": Case(Nanocrystals(5.0, 0.05, 0.15), grid_nm=(300.0, 750.0, 0.5), turbidity_au_at_400nm=0.01, noise_au=0.004),
    "broad_3.2nm": Case(Nanocrystals(3.2, 0.14, 0.06, continuum_ratio=1.5), noise_au=0.002),
    # NCs beside CdSe-437.
    "beside_437_2.4nm": Case(Nanocrystals(2.4, 0.08, 0.05), clusters={"CdSe-437": 0.12}, noise_au=0.002),
    "beside_437_2.7nm": Case(Nanocrystals(2.7, 0.07, 0.08), clusters={"CdSe-437": 0.08}, grid_nm=(300.0, 700.0, 0.5), noise_au=0.003),
    "beside_437_3.6nm": Case(Nanocrystals(3.6, 0.06, 0.10), clusters={"CdSe-403": 0.08, "CdSe-437": 0.15}, cluster_fwhm_nm=12.0, noise_au=0.003),
    # Weak NCs beside strong clusters.
    "weak_beside_strong_2.5nm": Case(Nanocrystals(2.5, 0.08, 0.025), clusters={"CdSe-437": 0.30, "CdSe-465": 0.10}, noise_au=0.001),
    "weak_beside_strong_3.0nm": Case(
        Nanocrystals(3.0, 0.07, 0.02),
        clusters={"CdSe-403": 0.15, "CdSe-437": 0.25},
        cluster_shift_nm=1.5,
        grid_nm=(300.0, 700.0, 0.5),
        noise_au=0.001,
    ),
    # Crowded 4.5 s-like mixtures: several cluster bands and a weak NC shoulder.
    "crowded_2.3nm": Case(Nanocrystals(2.3, 0.09, 0.03), clusters=LADDER, cluster_shift_nm=1.0, noise_au=0.001),
    "crowded_2.5nm": Case(Nanocrystals(2.5, 0.08, 0.04), clusters={"CdSe-350": 0.1, **LADDER}, cluster_fwhm_nm=9.0, noise_au=0.002),
    "crowded_2.8nm": Case(Nanocrystals(2.8, 0.10, 0.04, "lognormal"), clusters=LADDER, grid_nm=(300.0, 700.0, 2.0), turbidity_au_at_400nm=0.02),
    # Cluster ladders without NCs.
    "ladder_437": Case(clusters={"CdSe-437": 0.10}, noise_au=0.003),
    "ladder_403_437_465": Case(clusters={"CdSe-403": 0.08, "CdSe-437": 0.20, "CdSe-465": 0.06}, cluster_shift_nm=1.5, cluster_fwhm_nm=13.0),
    "ladder_all": Case(clusters={"CdSe-350": 0.15, **LADDER}, grid_nm=(300.0, 700.0, 0.5), noise_au=0.004, rayleigh_au_at_400nm=0.02),
    "ladder_380_403": Case(clusters={"CdSe-380": 0.10, "CdSe-403": 0.06}, cluster_fwhm_nm=8.0, turbidity_au_at_400nm=0.03),
    # Blanks: baselines and noise only.
    "blank_flat": Case(noise_au=0.005),
    "blank_rayleigh": Case(rayleigh_au_at_400nm=0.05, offset_au=0.01, grid_nm=(300.0, 700.0, 0.5), noise_au=0.002),
    "blank_turbid": Case(rayleigh_au_at_400nm=0.02, turbidity_au_at_400nm=0.05, grid_nm=(320.0, 780.0, 2.0), noise_au=0.003),
}


#: NC bands with no maximum of their own, only a shoulder on the rising higher transitions and
#: continuum: small, broad ensembles (12–18 % at 2.0–2.6 nm) and strong continua (up to 3× the
#: default), alone, on Rayleigh or turbid baselines, on a coarse grid, and beside CdSe-437. The
#: truth is the shoulder's flattest point (``nc_exciton_truth``: the NC component's local maximum
#: of dN/dλ, below zero). Each is a shoulder on the 0.01 nm reader, none by a hair (dN/dλ there
#: from −0.22 to −1.08 mAU/nm, against 0 at every maximum of ``CASES``).
SHOULDER_CASES: dict[str, Case] = {
    "shoulder_2.0nm_broad": Case(Nanocrystals(2.0, 0.12, 0.06), noise_au=0.001),
    "shoulder_2.0nm_continuum": Case(Nanocrystals(2.0, 0.08, 0.06, continuum_ratio=3.0), noise_au=0.002),
    "shoulder_2.2nm_lognormal": Case(Nanocrystals(2.2, 0.15, 0.06, "lognormal"), grid_nm=(300.0, 700.0, 0.5), noise_au=0.002),
    "shoulder_2.2nm_18pct": Case(Nanocrystals(2.2, 0.18, 0.08, continuum_ratio=2.0), rayleigh_au_at_400nm=0.02, noise_au=0.002),
    "shoulder_2.4nm_continuum": Case(
        Nanocrystals(2.4, 0.15, 0.08, "lognormal", continuum_ratio=3.0), turbidity_au_at_400nm=0.02, noise_au=0.003
    ),
    "shoulder_2.6nm_18pct": Case(
        Nanocrystals(2.6, 0.18, 0.10, "lognormal", continuum_ratio=3.0), grid_nm=(320.0, 750.0, 2.0), noise_au=0.002
    ),
    "shoulder_2.4nm_beside_437": Case(
        Nanocrystals(2.4, 0.15, 0.06, "lognormal", continuum_ratio=2.0), clusters={"CdSe-437": 0.1}, noise_au=0.002
    ),
    "shoulder_2.2nm_beside_437": Case(
        Nanocrystals(2.2, 0.12, 0.05, "lognormal", continuum_ratio=2.0), clusters={"CdSe-437": 0.08}, noise_au=0.001
    ),
}


def nc_slope_at_exciton(nc: Nanocrystals, first_nm: float = 300.0, last_nm: float = 750.0) -> float:
    """dN/dλ of the noise-free NC component at its exciton truth, AU/nm: ≈ 0 at a maximum, < 0 at a shoulder."""
    exciton = nc_exciton_truth(nc, first_nm, last_nm)
    fine = np.array([exciton - 0.01, exciton + 0.01])
    n = nc_component(nc, fine)[0]
    return float((n[1] - n[0]) / 0.02)


def with_noise(case: Case, noise_au: float) -> Case:
    """``case`` at another noise level."""
    return replace(case, noise_au=noise_au)
