"""Vibrations of a molecule (script7): the PBE reference, the Hessian by finite differences, normal
modes, the model's minimum judged, and the vibrational spectrum of an MD run from its velocities."""

import json

import numpy as np
from ase import units
from ase.vibrations import VibrationsData
from scipy.optimize import linear_sum_assignment

from common.settings import fail

REFERENCE_KEYS = ("numbers", "positions_A", "hessian_eV_A2", "mode_names", "level_of_theory", "conformer")


def load_reference(path) -> dict:
    """The PBE normal-mode reference (generators/make_normal_modes.py writes it; the project ships it),
    or one line that says what to do if it is missing or broken."""
    remedy = (
        "it ships with the project: restore it (git checkout -- schnet_tutorial/data/"
        f"{path.name}, or a fresh copy of the project), or make it with "
        "schnet_tutorial/generators/make_normal_modes.py (needs PySCF: requirements-dataset.txt)"
    )
    try:
        ref = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"the PBE reference {path} is missing: {remedy}")
    except (OSError, ValueError) as exc:
        fail(f"the PBE reference {path} cannot be read ({type(exc).__name__}): {remedy}")
    missing = [key for key in REFERENCE_KEYS if key not in ref]
    if missing:
        fail(f"the PBE reference {path} lacks {', '.join(missing)}: {remedy}")
    return ref


def rmsd(atoms, reference) -> float:
    """Root-mean-square distance (Å) of the atoms of two overlaid geometries."""
    return float(np.sqrt(np.mean(np.sum((atoms.positions - reference.positions) ** 2, axis=1))))


def minimum_note(steps: int, converged: bool, forces, fmax: float) -> str:
    """What to add to the RMSD of a model's BFGS minimum from PBE's: nothing if BFGS moved the atoms
    and converged; else why the RMSD is not a result (no step taken, or not converged)."""
    largest = float(np.abs(forces).max())
    if steps == 0:
        return (
            f" - NOT A RESULT: BFGS took no step, the model's largest force on PBE's minimum is "
            f"{largest:.1e} eV/Å, below OPT_FMAX_EV_A = {fmax:g} (a model without forces stands still)"
        )
    return "" if converged else f" - NOT converged: max |F| {largest:.1e} eV/Å"


def hessian(atoms, calc, step):
    """The Hessian (eV/Å^2) by central finite differences of the forces of ``calc``: column j is
    -(F(x + h e_j) - F(x - h e_j)) / 2h (2 x 3N force calls), symmetrised."""
    x0, n = atoms.positions.copy(), 3 * len(atoms)
    atoms = atoms.copy()
    result = np.zeros((n, n))
    for j in range(n):
        forces = []
        for sign in (1, -1):
            atoms.positions = x0
            atoms.positions[j // 3, j % 3] += sign * step
            forces.append(calc.get_forces(atoms).ravel())
        result[:, j] = -(forces[0] - forces[1]) / (2 * step)
    return 0.5 * (result + result.T)


def normal_modes(atoms, hessian):
    """Frequencies (cm^-1, ascending; an imaginary one as a negative number) and mass-weighted,
    normalised mode vectors (3N-6, 3N) of a Hessian (eV/Å^2), the 6 lowest |frequencies| dropped."""
    vib = VibrationsData.from_2d(atoms, hessian)
    freqs = vib.get_frequencies()  # ASE: complex, imaginary part for negative curvature
    freqs = np.where(np.abs(freqs.imag) > 0, -np.abs(freqs.imag), freqs.real)
    _, modes = vib.get_energies_and_modes(all_atoms=True)  # Cartesian displacements (N, 3)
    keep = np.sort(np.argsort(np.abs(freqs))[6:])
    vectors = (modes[keep] * np.sqrt(atoms.get_masses())[None, :, None]).reshape(len(keep), -1)
    order = np.argsort(freqs[keep])
    return freqs[keep][order], (vectors / np.linalg.norm(vectors, axis=1, keepdims=True))[order]


def match_modes(ref_vectors, freqs, vectors):
    """A model's frequencies paired with the reference's modes by their shapes (the largest overlap of
    the mass-weighted vectors, one to one), not only by their order: two close modes may swap places.
    Returns the model's frequency for each reference mode and the overlap of the two shapes (1 = same)."""
    overlap = np.abs(ref_vectors @ vectors.T)  # |<reference mode i | model mode j>|
    _, match = linear_sum_assignment(-overlap)  # the one-to-one pairing of the largest total overlap
    return freqs[match], overlap[np.arange(len(match)), match]


def compare(reference, ref_freqs, ref_vectors, calc, fmax: float, step: float) -> dict:
    """A model (ASE calculator) against a reference minimum, as script7 judges one (script8 reuses it):
    BFGS from the reference geometry to the model's own minimum (overlaid on the reference), then the
    Hessian there and its normal modes paired with the reference's by shape. Returns the minimum
    ("atoms", "rmsd" in Å, "steps", "converged") and the frequencies ("matched" per reference mode,
    "errors", "mae", "max_err" in cm^-1)."""
    from ase.build import minimize_rotation_and_translation
    from ase.optimize import BFGS

    atoms = reference.copy()
    atoms.calc = calc
    opt = BFGS(atoms, logfile=None)
    converged = opt.run(fmax=fmax, steps=2000)
    minimize_rotation_and_translation(reference, atoms)
    freqs, vectors = normal_modes(atoms, hessian(atoms, calc, step))
    matched, overlap = match_modes(ref_vectors, freqs, vectors)
    errors = matched - ref_freqs
    moved = rmsd(atoms, reference) if opt.nsteps else float("nan")  # no step taken: no result (minimum_note)
    return {"atoms": atoms, "rmsd": moved, "steps": opt.nsteps, "converged": converged,
            "freqs": freqs, "matched": matched, "overlap": overlap, "errors": errors,
            "mae": float(np.abs(errors).mean()), "max_err": float(np.abs(errors).max())}  # fmt: skip


def power_spectrum(velocities, masses, timestep_fs, max_lag_fs):
    """Wavenumbers (cm^-1) and the power spectrum of the mass-weighted velocity autocorrelation
    C(t) = < sum_i m_i v_i(0) . v_i(t) > (averaged over time origins), Hann-windowed up to max_lag_fs."""
    w = (velocities * np.sqrt(masses)[None, :, None]).reshape(len(velocities), -1)
    n = len(w)
    spectrum = np.abs(np.fft.rfft(w, n=2 * n, axis=0)) ** 2  # Wiener-Khinchin: C(t) by FFT
    acf = np.fft.irfft(spectrum, axis=0)[:n].sum(axis=1) / np.arange(n, 0, -1)
    lags = min(n - 1, int(round(max_lag_fs / timestep_fs)))
    acf = acf[:lags] * np.hanning(2 * lags)[lags:]
    n_fft = 16 * lags
    power = np.fft.rfft(np.concatenate([acf, np.zeros(n_fft - 2 * lags + 1), acf[:0:-1]])).real
    wavenumbers = np.fft.rfftfreq(n_fft, d=timestep_fs * 1e-15) / (units._c * 100)
    return wavenumbers, power / power[wavenumbers > 100].max()


def imaginary_note(label, freqs) -> str:
    """One line on a model's imaginary modes (negative frequencies: the energy curves down along
    them), or "" when it has none."""
    imaginary = [f for f in freqs if f < 0]
    if not imaginary:
        return ""
    listed = ", ".join(f"{f:.0f}" for f in imaginary)
    return (
        f"note: {label} has {len(imaginary)} imaginary mode{'s' * (len(imaginary) > 1)} ({listed} cm^-1, "
        "plotted as negative frequencies): along it the model's energy curves down, so the geometry it was "
        "optimised to is a saddle point, not a minimum (BFGS keeps the molecule's mirror symmetry and can "
        "stop on one). The model gets the shape of the energy surface wrong there: train it longer or on "
        "more frames"
    )
