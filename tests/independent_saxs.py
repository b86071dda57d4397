"""SAXS patterns made without autolab: sasmodels itself, a pyFAI-like 1D integration grid, counts.

The plugin under test (``plugins/saxs.py``) is checked against patterns it did not make, so this
module imports neither ``autolab.sim`` nor ``autolab.plugins`` and its physics differs from the
twin's on purpose:

- Spheres: sasmodels' ``sphere`` (through :func:`sasmodels.direct_model.call_kernel`) with Schulz
  *or Gaussian* polydispersity sampled more finely than sasmodels' defaults, CdSe 40.5e-6 Å⁻² in
  octadecene 7.9e-6 Å⁻² (the plugin assumes 42 and 8, so only radius and polydispersity are
  comparable, never the scale), optionally smeared by a pinhole resolution.
- Lamellar mesophase: sasmodels' ``lamellar_stack_paracrystal`` (bilayers of finite thickness in a
  stack of N layers, so the bilayer form factor weakens or extinguishes orders: thickness d/2
  removes the even orders), or Lorentzian / Gaussian Bragg peaks drawn by hand, on the Cd
  precursor's scattering as sasmodels' ``broad_peak`` (a power law plus a Lorentzian maximum near
  0.25 nm⁻¹), unlike the twin's log-normal hump.
- Detector: a pyFAI-like radial integration on a linear or log q grid; the pixels in each annulus
  grow as q·Δq, counts are Poisson and σ = √counts / (pixels · exposure · flux), pyFAI's
  ``error_model="poisson"``; a flat solvent + capillary background is measured with the sample
  (``subtract_background`` gives the background-subtracted variant, with negative points).

Each :class:`Pattern` carries its truth. :func:`validation_set` is the fixed set the tests and the
closing table use; :func:`write_pyfai` writes a pattern as a pyFAI ``.dat`` three-column file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

CDSE_SLD = 40.5
ODE_SLD = 7.9
#: Bilayer contrast of the Cd carboxylate lamellae against the melt, 1e-6 Å⁻².
LAMELLA_SLD, MELT_SLD = 10.5, 7.6


@dataclass
class Pattern:
    """One integrated SAXS pattern and what made it."""

    name: str
    q_nm_inv: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray
    truth: dict = field(default_factory=dict)


@lru_cache(maxsize=8)
def _model(name: str):
    from sasmodels.core import load_model

    return load_model(name)


def _call(name: str, q_nm_inv: np.ndarray, dq_nm_inv: float | None = None, **pars) -> np.ndarray:
    """sasmodels ``name`` on ``q_nm_inv`` (converted to Å⁻¹), optionally pinhole-smeared by ``dq``."""
    from sasmodels.direct_model import call_kernel

    q_a = np.asarray(q_nm_inv, dtype=float) / 10.0
    model = _model(name)
    if dq_nm_inv:
        from sasmodels.resolution import Pinhole1D

        resolution = Pinhole1D(q_a, np.full_like(q_a, dq_nm_inv / 10.0))
        kernel = model.make_kernel([resolution.q_calc])
        return np.asarray(resolution.apply(call_kernel(kernel, pars)), dtype=float)
    kernel = model.make_kernel([q_a])
    return np.asarray(call_kernel(kernel, pars), dtype=float)


def spheres(q_nm_inv, radius_nm, polydispersity, volume_fraction, *, distribution="schulz", dq_nm_inv=None):
    """I(q) in cm⁻¹ of CdSe spheres in octadecene, sasmodels ``sphere``."""
    n = 81 if distribution == "schulz" else 61
    return _call(
        "sphere", q_nm_inv, dq_nm_inv,
        radius=10.0 * radius_nm, radius_pd=polydispersity, radius_pd_type=distribution, radius_pd_n=n,
        sld=CDSE_SLD, sld_solvent=ODE_SLD, scale=volume_fraction, background=0.0,
    )


def precursor(q_nm_inv, *, scale=1.0):
    """The Cd precursor's own scattering: sasmodels ``broad_peak`` (q⁻³ plus a maximum at 0.25 nm⁻¹)."""
    return _call(
        "broad_peak", q_nm_inv,
        porod_scale=2e-7 * scale, porod_exp=3.0, peak_pos=0.025, peak_scale=0.06 * scale,
        correlation_length=25.0, width_exp=2.0, shape_exp=1.0, scale=1.0, background=0.0,
    )


def lamellar_stack(q_nm_inv, d_spacing_nm, thickness_nm, *, layers=15, disorder=0.02, scale=1.0):
    """Bragg orders of paracrystalline lamellar stacks, sasmodels ``lamellar_stack_paracrystal``.

    Stacks of 0.6–1.4 × ``layers`` layers are averaged (one stack size would add finite-size
    fringes that a real, size-disperse mesophase does not show). ``disorder`` is the spread of the
    spacing relative to d (sasmodels' ``sigma_d`` acts as a relative width although its unit reads
    Å: 0.1 already melts every order).
    """
    sizes = range(max(int(0.6 * layers), 2), int(1.4 * layers) + 1)
    return np.mean([
        _call(
            "lamellar_stack_paracrystal", q_nm_inv,
            thickness=10.0 * thickness_nm, Nlayers=n, d_spacing=10.0 * d_spacing_nm, sigma_d=disorder,
            sld=LAMELLA_SLD, sld_solvent=MELT_SLD, scale=scale, background=0.0,
        )
        for n in sizes
    ], axis=0)


def bragg_peaks(q_nm_inv, q1_nm_inv, heights, *, hwhm_nm_inv=0.05, shape="lorentzian"):
    """Hand-drawn orders n·q₁ (n = 1, 2, …) with the given peak heights (cm⁻¹)."""
    q = np.asarray(q_nm_inv, dtype=float)
    out = np.zeros_like(q)
    for n, height in enumerate(heights, start=1):
        x = (q - n * q1_nm_inv) / hwhm_nm_inv
        out += height * (1.0 / (1.0 + x**2) if shape == "lorentzian" else np.exp(-np.log(2) * x**2))
    return out


def pyfai_grid(q_min=0.1, q_max=5.0, points=400, *, spacing="linear"):
    """Bin centres of a 1D azimuthal integration (pyFAI ``integrate1d`` with ``unit="q_nm^-1"``)."""
    if spacing == "log":
        edges = np.geomspace(q_min, q_max, points + 1)
        return np.sqrt(edges[1:] * edges[:-1])
    edges = np.linspace(q_min, q_max, points + 1)
    return 0.5 * (edges[1:] + edges[:-1])


def count(q_nm_inv, intensity, rng, *, flux=2e5, background=0.02, subtract_background=False):
    """Measured I and σ: Poisson counts of (I + background) over the pixels of each annulus.

    ``flux`` is counts per cm⁻¹ for the median annulus; an annulus holds pixels ∝ q·Δq.
    """
    q = np.asarray(q_nm_inv, dtype=float)
    width = np.gradient(q)
    pixels = q * width / np.median(q * width)
    exposure = flux * pixels
    counts = rng.poisson(np.clip(intensity + background, 0.0, None) * exposure)
    measured = counts / exposure
    sigma = np.sqrt(np.maximum(counts, 1.0)) / exposure
    if subtract_background:
        blank = rng.poisson(background * exposure) / exposure  # a solvent run of the same exposure
        measured = measured - blank
        sigma = np.hypot(sigma, np.sqrt(np.maximum(background * exposure, 1.0)) / exposure)
    return measured, sigma


def sphere_pattern(name, radius_nm, polydispersity, *, seed, distribution="schulz", volume_fraction=None,
                   grid=None, background=0.02, flux=2e5, dq_nm_inv=None, subtract_background=False) -> Pattern:
    """One population of spheres; ``volume_fraction`` defaults to I(0) ≈ 0.5 cm⁻¹."""
    q = pyfai_grid() if grid is None else grid
    if volume_fraction is None:
        volume_fraction = 2e-3 * (1.5 / radius_nm) ** 3
    clean = spheres(q, radius_nm, polydispersity, volume_fraction, distribution=distribution, dq_nm_inv=dq_nm_inv)
    measured, sigma = count(q, clean, np.random.default_rng(seed), flux=flux, background=background,
                            subtract_background=subtract_background)
    truth = {"radius_nm": radius_nm, "polydispersity": polydispersity, "distribution": distribution, "mesophase": False}
    return Pattern(name, q, measured, sigma, truth)


def two_population_pattern(name, small_nm, large_nm, *, seed, small_pd=0.05, large_pd=0.08, small_share=0.5,
                           grid=None, background=0.02, flux=2e5) -> Pattern:
    """MSC-like small spheres and NCs; ``small_share`` is the small population's volume share."""
    q = pyfai_grid(points=300, spacing="log") if grid is None else grid
    total = 4e-3
    clean = spheres(q, small_nm, small_pd, total * small_share) + spheres(q, large_nm, large_pd, total * (1 - small_share))
    measured, sigma = count(q, clean, np.random.default_rng(seed), flux=flux, background=background)
    truth = {"radii_nm": (small_nm, large_nm), "volume_shares": (small_share, 1 - small_share), "mesophase": False}
    return Pattern(name, q, measured, sigma, truth)


def mesophase_pattern(name, *, seed, q1_nm_inv=1.84, heights=(0.15, 0.05), shape="lorentzian", hwhm_nm_inv=0.05,
                      grid=None, background=0.02, flux=2e5, particles=None) -> Pattern:
    """Hand-drawn Bragg orders on the precursor's scattering (optionally with spheres ``(r, pd, φ)``)."""
    q = pyfai_grid(points=500) if grid is None else grid
    clean = precursor(q) + bragg_peaks(q, q1_nm_inv, heights, hwhm_nm_inv=hwhm_nm_inv, shape=shape)
    if particles is not None:
        clean = clean + spheres(q, *particles)
    measured, sigma = count(q, clean, np.random.default_rng(seed), flux=flux, background=background)
    orders = [n for n, h in enumerate(heights, start=1) if h > 0 and n * q1_nm_inv <= q[-1]]
    truth = {"mesophase": True, "q1_nm_inv": q1_nm_inv, "d_spacing_nm": 2 * np.pi / q1_nm_inv, "orders": orders}
    return Pattern(name, q, measured, sigma, truth)


def lamellar_stack_pattern(name, *, seed, d_spacing_nm=3.41, thickness_nm=1.2, layers=15, scale=0.05,
                           grid=None, background=0.02, flux=2e5) -> Pattern:
    """A sasmodels lamellar stack on the precursor's scattering; truth orders are those ≥ 2 % of the first."""
    q = pyfai_grid(points=450, spacing="log") if grid is None else grid
    stack = lamellar_stack(q, d_spacing_nm, thickness_nm, layers=layers, scale=scale)
    clean = precursor(q) + stack
    measured, sigma = count(q, clean, np.random.default_rng(seed), flux=flux, background=background)
    q1 = 2 * np.pi / d_spacing_nm
    fine = np.linspace(0.5 * q1, q[-1], 4000)
    fine_stack = lamellar_stack(fine, d_spacing_nm, thickness_nm, layers=layers, scale=scale)
    heights = {n: float(fine_stack[np.abs(fine - n * q1) < 0.1 * q1].max()) for n in range(1, int(q[-1] / q1) + 1)}
    orders = [n for n, h in heights.items() if h >= 0.02 * heights[1]]
    truth = {"mesophase": True, "q1_nm_inv": q1, "d_spacing_nm": d_spacing_nm, "orders": orders,
             "order_heights": heights}
    return Pattern(name, q, measured, sigma, truth)


def validation_set() -> list[Pattern]:
    """The fixed independent set: single populations, two populations, mesophases, a blank."""
    linear400 = pyfai_grid(points=400)
    log250 = pyfai_grid(points=250, spacing="log")
    log500 = pyfai_grid(0.08, 5.0, 500, spacing="log")
    linear300 = pyfai_grid(0.12, 5.0, 300)
    return [
        sphere_pattern("spheres r0.8 pd0.10 gauss", 0.8, 0.10, seed=1, distribution="gaussian", grid=log250),
        sphere_pattern("spheres r0.9 pd0.05 schulz", 0.9, 0.05, seed=2, grid=linear400),
        sphere_pattern("spheres r1.2 pd0.15 schulz", 1.2, 0.15, seed=3, grid=log500),
        sphere_pattern("spheres r1.6 pd0.08 gauss", 1.6, 0.08, seed=4, distribution="gaussian", grid=linear300),
        sphere_pattern("spheres r2.2 pd0.03 schulz smeared", 2.2, 0.03, seed=5, grid=log500, dq_nm_inv=0.02),
        sphere_pattern("spheres r2.5 pd0.12 gauss", 2.5, 0.12, seed=6, distribution="gaussian", grid=linear400),
        sphere_pattern("spheres r3.0 pd0.06 schulz", 3.0, 0.06, seed=7, grid=linear400),
        sphere_pattern("spheres r1.5 pd0.08 subtracted", 1.5, 0.08, seed=8, grid=log250, subtract_background=True,
                       background=0.03),
        two_population_pattern("MSC 0.9 + NC 1.6", 0.9, 1.6, seed=9),
        two_population_pattern("MSC 0.9 + NC 2.2", 0.9, 2.2, seed=10, grid=linear400),
        two_population_pattern("MSC 0.9 + NC 2.5 (NC 30 %)", 0.9, 2.5, seed=11, small_share=0.7, grid=log500),
        mesophase_pattern("mesophase RT 1.84 + 3.69 (Palencia Fig. 3)", seed=12, heights=(0.15, 0.05)),
        mesophase_pattern("mesophase weak 2nd order", seed=13, heights=(0.08, 0.006), grid=log250, shape="gaussian",
                          hwhm_nm_inv=0.045),
        mesophase_pattern("mesophase first order only", seed=14, heights=(0.06, 0.0), grid=linear300),
        mesophase_pattern("mesophase 50 °C (weak)", seed=15, heights=(0.02, 0.004), grid=linear400),
        mesophase_pattern("mesophase beside NCs r1.6", seed=16, heights=(0.1, 0.03), particles=(1.6, 0.08, 1e-3)),
        lamellar_stack_pattern("lamellar stack d3.41 t1.2", seed=17),
        lamellar_stack_pattern("lamellar stack d3.41 t1.705 (even orders extinct)", seed=18, thickness_nm=1.705),
        lamellar_stack_pattern("lamellar stack d4.2 N8", seed=19, d_spacing_nm=4.2, layers=8, grid=linear400),
        Pattern("blank (solvent only)", linear400, *count(linear400, np.zeros_like(linear400), np.random.default_rng(20)),
                {"mesophase": False}),
    ]


def write_pyfai(pattern: Pattern, path: str | Path) -> Path:
    """A pyFAI ``integrate1d`` text file: comment header, then ``q_nm^-1  I  sigma`` columns."""
    path = Path(path)
    header = "\n".join([
        "# == pyFAI calibration ==",
        "# Distance Sample to Detector: 0.45 m",
        "# Wavelength: 1.5406e-10 m",
        "# --> " + str(path.name),
        "#       q_nm^-1             I             sigma",
    ])
    rows = "\n".join(f"{q:14.6e} {i:14.6e} {s:14.6e}" for q, i, s in zip(pattern.q_nm_inv, pattern.intensity, pattern.sigma, strict=True))
    path.write_text(header + "\n" + rows + "\n")
    return path
