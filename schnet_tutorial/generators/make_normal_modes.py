"""Make the PBE/def2-SVP reference for script7: ethanol's minimum and its harmonic frequencies.

``schnet_tutorial/script7_vibrations.py`` asks whether a trained force field gets the molecule
right: its minimum-energy structure and its vibrations. This script makes what it compares against,
at exactly the level of theory of the shipped frames (``make_ethanol_dataset.pbe_scf``: PySCF, PBE,
def2-SVP, density fitting with def2-universal-jkfit, grid level 3, SCF to 1e-10 Hartree):

  1. Optimise the trans (anti) conformer of ethanol (ASE's g2 structure, H-O-C-C dihedral 180 deg)
     with ASE's BFGS on PBE forces until every force component is below BFGS_FMAX_EV_A, then with
     Newton steps using the analytic Hessian until below FMAX_EV_A (BFGS alone wanders about at
     1e-4 eV/Å, where the forces' numerical noise is as large as the curvature it estimates).
  2. The analytic PBE Hessian at the minimum (PySCF's density-fitted RKS Hessian, the same
     approximations as the gradients), in eV/Å^2.
  3. Harmonic frequencies with ASE's ``VibrationsData`` (ASE's standard atomic masses, as script7
     uses for the models); the six lowest, translations and rotations, are dropped, leaving the
     3N - 6 = 21 vibrations, ascending, in cm^-1, each named by the internal coordinates that hold
     most of its potential energy (``mode_name``).

The result goes to ``schnet_tutorial/data/ethanol_pbe_normal_modes.json`` (shipped).

Optional dependencies (not in the base install): ``pip install -r requirements-dataset.txt``.

Usage
  python schnet_tutorial/generators/make_normal_modes.py                   # writes the shipped JSON file
  python schnet_tutorial/generators/make_normal_modes.py --out /tmp/nm.json  # somewhere else
  python schnet_tutorial/generators/make_normal_modes.py --check    # shipped file: forces at its geometry
                                                                # and two frequencies by finite differences
  python schnet_tutorial/generators/make_normal_modes.py --rename          # name the modes again (no PySCF)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from schnet_tutorial.generators.make_ethanol_dataset import (
    AUXBASIS,
    BASIS,
    BOHR_ANGSTROM,
    CONV_TOL,
    DATA_DIR,
    GRID_LEVEL,
    HARTREE_EV,
    XC,
    DatasetError,
    pbe_scf,
    start_geometry,
    versions,
)

BFGS_FMAX_EV_A = 1e-3  # BFGS stops when every internal force component is below this (eV/Å) ...
FMAX_EV_A = 1e-4  # ... then Newton steps with the analytic Hessian take them below this (eV/Å)
MAX_STEPS = 300  # BFGS steps at most
MAX_NEWTON = 6  # Newton steps at most
N_RIGID = 6  # translations and rotations of a non-linear molecule
FD_STEP_A = 0.01  # largest Cartesian displacement of the finite-difference check (Å)
DEFAULT_OUT = DATA_DIR / "ethanol_pbe_normal_modes.json"
LEVEL_OF_THEORY = (
    f"{XC}/{BASIS} (PySCF, density fitting {AUXBASIS}, grid level {GRID_LEVEL}, conv_tol {CONV_TOL:g} Ha)"
)
TO_EV_A2 = HARTREE_EV / BOHR_ANGSTROM**2  # Hartree/Bohr^2 -> eV/Å^2


# ---------------------------------------------------------------------------------------------------
# PBE energy, forces and Hessian (the SCF set-up is make_ethanol_dataset.pbe_scf's)
# ---------------------------------------------------------------------------------------------------
class PBEGradients:
    """PBE energy (eV) and forces (eV/Å) along a path of nearby geometries.

    Uses PySCF's gradient scanner built on ``pbe_scf``'s converged object: the same settings, and each
    SCF starts from the previous density, which halves the cost of an optimisation or of finite
    differences."""

    def __init__(self, symbols, positions):
        mf, _ = pbe_scf(symbols, positions)
        self.scanner = mf.nuc_grad_method().as_scanner()
        self.mol = mf.mol
        self.calls = 0

    def __call__(self, positions):
        mol = self.mol.set_geom_(np.asarray(positions), unit="Angstrom", inplace=False)
        energy, grad = self.scanner(mol)
        if not self.scanner.converged:
            raise DatasetError("SCF did not converge")
        self.calls += 1
        return energy * HARTREE_EV, -np.asarray(grad) * HARTREE_EV / BOHR_ANGSTROM


def rigid_motions(positions) -> np.ndarray:
    """Orthonormal basis (6, 3N) of the rigid translations and rotations of a molecule."""
    pos = np.asarray(positions) - np.mean(positions, axis=0)
    vectors = []
    for axis in np.eye(3):
        vectors.append(np.tile(axis, (len(pos), 1)).ravel())  # translation
        vectors.append(np.cross(axis, pos).ravel())  # rotation about the centre
    q, _ = np.linalg.qr(np.array(vectors).T)
    return q.T


def internal_forces(positions, forces) -> np.ndarray:
    """Forces without their net translation and rotation parts.

    The DFT integration grid moves with the atoms, and PySCF's gradients leave out its response:
    the forces then have a small net force and torque (of order 1e-4 eV/Å) that moves the molecule
    as a whole. An optimiser following them drifts along those flat directions for ever; the
    vibrations do not care, so the optimisation follows the internal forces only."""
    basis = rigid_motions(positions)
    f = np.asarray(forces).ravel()
    return (f - basis.T @ (basis @ f)).reshape(-1, 3)


def newton_step(positions, hessian, forces) -> np.ndarray:
    """The Newton step dx = H^-1 F (Å, (N, 3)) within the internal motions (rigid ones left out)."""
    basis = rigid_motions(positions)
    project = np.eye(len(basis.T)) - basis.T @ basis
    values, vectors = np.linalg.eigh(project @ hessian @ project)
    keep = np.abs(values) > 1e-2  # eV/Å^2: the 6 rigid motions have ~0
    f = np.asarray(forces).ravel()
    return (vectors[:, keep] @ ((vectors[:, keep].T @ f) / values[keep])).reshape(-1, 3)


def ase_calculator(gradients: PBEGradients):
    """An ASE calculator around ``gradients`` for ASE's optimisers: internal forces only."""
    from ase.calculators.calculator import Calculator, all_changes

    class PBE(Calculator):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            energy, forces = gradients(self.atoms.get_positions())
            self.raw_forces = forces
            self.results = {"energy": energy, "forces": internal_forces(self.atoms.positions, forces)}

    return PBE()


def pbe_hessian(symbols, positions) -> tuple[float, np.ndarray]:
    """Energy (eV) and analytic Hessian (eV/Å^2, shape (3N, 3N)) at one geometry (Å)."""
    mf, energy = pbe_scf(symbols, positions)
    hess = mf.Hessian().kernel()  # (N, N, 3, 3), Hartree/Bohr^2
    n = len(symbols)
    hess = hess.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n) * TO_EV_A2
    return energy * HARTREE_EV, 0.5 * (hess + hess.T)


# ---------------------------------------------------------------------------------------------------
# Normal modes
# ---------------------------------------------------------------------------------------------------
def vibrations(symbols, positions, hessian):
    """ASE VibrationsData of a Hessian (eV/Å^2, (3N, 3N)) at a geometry (Å), ASE's masses."""
    from ase import Atoms
    from ase.vibrations import VibrationsData

    atoms = Atoms(symbols=symbols, positions=positions)
    return VibrationsData.from_2d(atoms, np.asarray(hessian))


def real_modes(vib):
    """The 3N-6 vibrations of a VibrationsData, ascending: frequencies (cm^-1; an imaginary one is
    returned as a negative number) and Cartesian mode shapes (3N-6, N, 3)."""
    energies, modes = vib.get_energies_and_modes(all_atoms=True)
    order = np.argsort(np.abs(energies))[N_RIGID:]  # drop translations and rotations
    order = order[np.argsort(np.abs(energies[order]))]
    freqs = vib.get_frequencies()[order]
    freqs = np.where(np.abs(freqs.imag) > 0, -np.abs(freqs.imag), freqs.real)
    return freqs, modes[order]


def ethanol_groups(symbols, positions) -> dict[str, list[int]]:
    """Atom indices of ethanol's groups from the bonds: CH3, CH2 and OH (each with its heavy atom)."""
    pos = np.asarray(positions)
    heavy = [i for i, s in enumerate(symbols) if s != "H"]
    hydrogens = [i for i, s in enumerate(symbols) if s == "H"]
    owner = {h: min(heavy, key=lambda k: np.linalg.norm(pos[h] - pos[k])) for h in hydrogens}
    groups = {}
    for k in heavy:
        hs = [h for h in hydrogens if owner[h] == k]
        name = {("C", 3): "CH3", ("C", 2): "CH2", ("O", 1): "OH"}.get((symbols[k], len(hs)))
        if name is None:
            raise DatasetError("not ethanol: expected CH3, CH2 and OH groups")
        groups[name] = [k] + hs
    return groups


def internal_coordinates(symbols, positions):
    """Ethanol's internal coordinates, symmetry-adapted and named: (name, function of an Atoms).

    Stretches are bond lengths (Å); bends, rocks, wags and torsions angles (radians), combined where
    a group moves as a whole (the three H-C-C angles of the methyl group together: its umbrella)."""
    groups = ethanol_groups(symbols, positions)
    c3, c2, o = groups["CH3"][0], groups["CH2"][0], groups["OH"][0]
    h3, h2, ho = groups["CH3"][1:], groups["CH2"][1:], groups["OH"][1]
    from ase import Atoms

    rad = np.pi / 180
    ref = Atoms(symbols, positions)

    def torsion(*idx):  # change of a dihedral angle from the reference, in (-pi, pi]
        d0 = ref.get_dihedral(*idx)
        return lambda a: ((a.get_dihedral(*idx) - d0 + 180) % 360 - 180) * rad

    def angles(a, triples):
        return np.array([a.get_angle(*t) for t in triples]) * rad

    hcc = [(h, c3, c2) for h in h3]
    hch = [(h3[0], c3, h3[1]), (h3[1], c3, h3[2]), (h3[2], c3, h3[0])]
    coords = [
        ("O-H stretch", lambda a: a.get_distance(o, ho)),
        ("C-O stretch", lambda a: a.get_distance(c2, o)),
        ("C-C stretch", lambda a: a.get_distance(c3, c2)),
        ("C-C-O bend", lambda a: a.get_angle(c3, c2, o) * rad),
        ("C-O-H bend", lambda a: a.get_angle(c2, o, ho) * rad),
        ("OH torsion", torsion(ho, o, c2, c3)),
    ]
    methyl = [torsion(h, c3, c2, o) for h in h3]
    coords += [("CH3 torsion", lambda a: sum(t(a) for t in methyl) / 3)]  # the group turning as a whole
    coords += [("CH3 C-H stretch", lambda a, h=h: a.get_distance(c3, h)) for h in h3]
    coords += [("CH2 C-H stretch", lambda a, h=h: a.get_distance(c2, h)) for h in h2]
    coords += [
        ("CH3 umbrella", lambda a: angles(a, hcc).sum()),
        ("CH3 rock", lambda a: angles(a, hcc) @ [2, -1, -1]),
        ("CH3 rock", lambda a: angles(a, hcc) @ [0, 1, -1]),
        ("CH3 deformation", lambda a: angles(a, hch) @ [2, -1, -1]),
        ("CH3 deformation", lambda a: angles(a, hch) @ [0, 1, -1]),
        ("CH2 scissor", lambda a: a.get_angle(h2[0], c2, h2[1]) * rad),
    ]
    cc_co = [(h2[0], c2, c3), (h2[1], c2, c3), (h2[0], c2, o), (h2[1], c2, o)]
    coords += [
        ("CH2 wag", lambda a: angles(a, cc_co) @ [1, 1, -1, -1]),
        ("CH2 twist/rock", lambda a: angles(a, cc_co) @ [1, -1, -1, 1]),
        ("CH2 twist/rock", lambda a: angles(a, cc_co) @ [1, -1, 1, -1]),
    ]
    return coords


def mode_character(symbols, positions, hessian, mode, step=1e-4):
    """Shares of a normal mode's potential energy by internal coordinate (a simple potential-energy
    distribution): each coordinate q_i with Cartesian gradient b_i gets k_i s_i^2, with s_i = b_i . d
    its change along the mode d and k_i = b_i H b_i / |b_i|^4 the curvature along b_i."""
    from ase import Atoms

    atoms = Atoms(symbols, positions)
    x0 = atoms.positions.copy()
    d = np.asarray(mode).ravel()
    shares = {}
    for label, q in internal_coordinates(symbols, positions):
        b = np.zeros(x0.size)
        for j in range(x0.size):
            for sign in (1, -1):
                atoms.positions = x0
                atoms.positions[j // 3, j % 3] += sign * step
                b[j] += sign * q(atoms) / (2 * step)
        k = b @ hessian @ b / (b @ b) ** 2
        shares[label] = shares.get(label, 0.0) + k * (b @ d) ** 2
    total = sum(shares.values())
    return {k: v / total for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}


def mode_name(symbols, positions, hessian, mode, freq) -> str:
    """A chemist's name for one normal mode (Cartesian shape (N, 3)): the internal coordinate with the
    largest share of its potential energy, and the second one when that has a quarter or more. X-H
    stretches are called symmetric when all the group's bonds stretch together."""
    shares = list(mode_character(symbols, positions, hessian, mode).items())
    (first, _), (second, share2) = shares[0], shares[1]
    if first in ("CH3 C-H stretch", "CH2 C-H stretch"):
        groups = ethanol_groups(symbols, positions)
        group = first.split()[0]
        c, hs = groups[group][0], groups[group][1:]
        pos, d = np.asarray(positions), np.asarray(mode)
        signs = [np.sign((pos[h] - pos[c]) @ (d[h] - d[c])) for h in hs]
        return f"{group} {'symmetric' if abs(sum(signs)) == len(signs) else 'asymmetric'} C-H stretch"
    return f"{first} + {second}" if share2 >= 0.25 else first


def mode_names(symbols, positions, hessian, modes, freqs) -> list[str]:
    hessian = np.asarray(hessian)
    return [mode_name(symbols, positions, hessian, m, f) for m, f in zip(modes, freqs)]


# ---------------------------------------------------------------------------------------------------
# Checks (used by tests/test_normal_modes.py)
# ---------------------------------------------------------------------------------------------------
def load(path: Path = DEFAULT_OUT) -> dict:
    return json.loads(Path(path).read_text())


def finite_difference_frequencies(ref: dict, mode_indices, step_a: float = FD_STEP_A):
    """Forces at the stored geometry (eV/Å), and the frequencies (cm^-1) of some stored modes from
    central differences of PBE gradients along each mode: an independent check of the analytic
    Hessian that costs 1 + 2 gradients per mode instead of a whole Hessian."""
    from ase.units import _amu, _c, _e  # SI constants, as ASE's VibrationsData uses

    symbols = [str(s) for s in ref["symbols"]]
    x0 = np.array(ref["positions_A"])
    vib = vibrations(symbols, x0, ref["hessian_eV_A2"])
    freqs, modes = real_modes(vib)
    masses = vib.get_atoms().get_masses()
    pbe = PBEGradients(symbols, x0)
    _, forces0 = pbe(x0)
    out = []
    for k in mode_indices:
        mode = modes[k] / np.abs(modes[k]).max() * step_a  # Cartesian displacement, largest = step
        q = mode * np.sqrt(masses)[:, None]  # mass-weighted displacement (amu^0.5 Å)
        f_plus = pbe(x0 + mode)[1]
        f_minus = pbe(x0 - mode)[1]
        # d2E/dq2 along the mass-weighted direction: -(dF . dx) / |q|^2, in eV/(Å^2 amu)
        curvature = -np.sum((f_plus - f_minus) * mode) / (2 * np.sum(q**2))
        omega = np.sqrt(abs(curvature) * _e / _amu) * 1e10  # rad/s
        out.append(np.sign(curvature) * omega / (2 * np.pi * _c * 100))
    return forces0, freqs[list(mode_indices)], np.array(out)


# ---------------------------------------------------------------------------------------------------
# Make the reference
# ---------------------------------------------------------------------------------------------------
def make_reference(log=print) -> dict:
    from ase.optimize import BFGS

    t_start = time.perf_counter()
    atoms = start_geometry()  # trans (anti): H-O-C-C dihedral 180 deg
    atoms.positions -= atoms.get_center_of_mass()
    symbols = atoms.get_chemical_symbols()
    pbe = PBEGradients(symbols, atoms.positions)
    atoms.calc = ase_calculator(pbe)
    log(f"1. optimising trans-ethanol at {LEVEL_OF_THEORY}: BFGS until max |F| < {BFGS_FMAX_EV_A:g} eV/Å")
    opt = BFGS(atoms, logfile=None)
    for _ in opt.irun(fmax=BFGS_FMAX_EV_A / np.sqrt(3), steps=MAX_STEPS):  # ASE's fmax: per-atom norm
        log(
            f"   step {opt.nsteps:3d}  E = {atoms.get_potential_energy():.6f} eV  "
            f"max |F| = {np.abs(atoms.get_forces()).max():.2e} eV/Å"
        )
    if np.abs(atoms.get_forces()).max() >= BFGS_FMAX_EV_A:
        raise DatasetError(f"BFGS did not converge in {MAX_STEPS} steps")
    t_bfgs = time.perf_counter() - t_start
    log(f"   then Newton steps with the analytic Hessian until max |F| < {FMAX_EV_A:g} eV/Å")
    t0 = time.perf_counter()
    _, hessian = pbe_hessian(symbols, atoms.positions)
    t_hess0 = time.perf_counter() - t0
    n_newton = 0
    while np.abs(atoms.get_forces()).max() >= FMAX_EV_A:
        if n_newton == MAX_NEWTON:
            raise DatasetError(f"{MAX_NEWTON} Newton steps did not converge the optimisation")
        atoms.positions += newton_step(atoms.positions, hessian, atoms.get_forces())
        n_newton += 1
        log(
            f"   Newton {n_newton}  E = {atoms.get_potential_energy():.6f} eV  "
            f"max |F| = {np.abs(atoms.get_forces()).max():.2e} eV/Å"
        )
    max_force = float(np.abs(atoms.get_forces()).max())
    raw = atoms.calc.raw_forces
    max_raw_force = float(np.abs(raw).max())
    net_force = float(np.linalg.norm(raw.sum(axis=0)))
    t_opt = time.perf_counter() - t_start
    positions = atoms.get_positions() - atoms.get_center_of_mass()
    positions = np.round(positions, 10)
    log(
        f"   {opt.nsteps} steps, {pbe.calls} PBE gradients, {t_opt:.0f} s; max |F| with the net force "
        f"and torque of the grid: {max_raw_force:.1e} eV/Å (net force {net_force:.1e} eV/Å)"
    )

    log("2. analytic PBE Hessian at the minimum (PySCF, density fitting)")
    t0 = time.perf_counter()
    energy, hessian = pbe_hessian(symbols, positions)
    t_hess = time.perf_counter() - t0
    log(f"   {t_hess:.0f} s")

    log("3. harmonic frequencies (ASE VibrationsData, ASE's atomic masses)")
    vib = vibrations(symbols, positions, hessian)
    all_freqs = vib.get_frequencies()
    freqs, modes = real_modes(vib)
    if freqs.min() <= 0:
        raise DatasetError(f"an imaginary frequency ({freqs.min():.1f} cm^-1): not a minimum")
    rigid = np.sort(np.abs(all_freqs))[:N_RIGID]
    names = mode_names(symbols, positions, hessian, modes, freqs)
    for f, name in zip(freqs, names):
        log(f"   {f:8.1f} cm^-1  {name}")
    log(f"   translations and rotations (dropped): |freq| <= {rigid.max():.1f} cm^-1")
    groups = ethanol_groups(symbols, positions)
    dihedral = atoms.get_dihedral(groups["OH"][1], groups["OH"][0], groups["CH2"][0], groups["CH3"][0])
    return {
        "description": "Trans (anti) ethanol optimised at PBE/def2-SVP, and its harmonic frequencies",
        "generator": "schnet_tutorial/generators/make_normal_modes.py",
        "level_of_theory": LEVEL_OF_THEORY,
        "program": "PySCF",
        "conformer": "trans (anti)",
        "units": {
            "energy": "eV",
            "positions": "Angstrom",
            "frequencies": "cm^-1",
            "hessian": "eV/Angstrom^2",
            "masses": "amu",
        },
        "numbers": atoms.get_atomic_numbers().tolist(),
        "symbols": symbols,
        "positions_A": positions.tolist(),
        "energy_eV": energy,
        "max_force_eV_A": max_raw_force,
        "max_internal_force_eV_A": max_force,
        "net_force_eV_A": net_force,
        "dihedral_HOCC_deg": round(float(dihedral), 3),
        "frequencies_cm1": [round(float(f), 3) for f in freqs],
        "mode_names": names,
        "rigid_body_frequencies_cm1": [round(float(f), 3) for f in rigid],
        "masses_amu": vib.get_atoms().get_masses().tolist(),
        "hessian_eV_A2": np.round(hessian, 8).tolist(),
        "method": {
            "optimisation": f"ASE BFGS from ASE's g2 CH3CH2OH (trans) until max |F| < {BFGS_FMAX_EV_A:g} "
            f"eV/Å, then Newton steps with the analytic Hessian until max |F| < {FMAX_EV_A:g} "
            "eV/Å (forces without net translation and rotation: internal_forces)",
            "hessian": "analytic (PySCF pyscf.df.hessian.rks, density fitting as the gradients)",
            "frequencies": "ase.vibrations.VibrationsData.from_2d with ASE's masses; the six "
            "lowest |frequencies| (translations, rotations) dropped",
            "mode_names": "make_normal_modes.mode_name: the largest shares of a simple potential-energy "
            "distribution over symmetry-adapted internal coordinates",
        },
        "versions": versions(),
        "timing": {
            "date": date.today().isoformat(),
            "optimisation_wall_s": round(t_opt, 1),
            "bfgs_wall_s": round(t_bfgs, 1),
            "optimisation_steps": opt.nsteps,
            "newton_steps": n_newton,
            "newton_hessian_wall_s": round(t_hess0, 1),
            "pbe_gradients": pbe.calls,
            "hessian_wall_s": round(t_hess, 1),
            "total_wall_s": round(time.perf_counter() - t_start, 1),
            "cpu_cores": os.cpu_count(),
            "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
        },
    }


def to_json(data: dict) -> str:
    """JSON with one line per innermost list of numbers (a row of the Hessian, a position)."""
    text = json.dumps(data, indent=1)
    return (
        re.sub(
            r"\[\s+([-+\d.e,\s]+?)\s+\]",
            lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
            text,
        )
        + "\n"
    )


def write_json(data: dict, path: Path) -> None:
    """Write through a temporary file: the file is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(to_json(data))
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON (default: the shipped file)")
    p.add_argument(
        "--check",
        action="store_true",
        help="check the file --out names: forces at its geometry, two frequencies by finite differences",
    )
    p.add_argument(
        "--rename",
        action="store_true",
        help="name the modes of the file --out again from its Hessian (no PySCF needed)",
    )
    args = p.parse_args(argv)
    try:
        if (args.check or args.rename) and not args.out.exists():
            raise DatasetError(f"{args.out} does not exist: run without --check or --rename first")
        if args.rename:
            ref = load(args.out)
            symbols, positions, hessian = ref["symbols"], np.array(ref["positions_A"]), ref["hessian_eV_A2"]
            freqs, modes = real_modes(vibrations(symbols, positions, hessian))
            ref["mode_names"] = mode_names(symbols, positions, hessian, modes, freqs)
            write_json(ref, args.out)
            for f, name in zip(freqs, ref["mode_names"]):
                print(f"{f:8.1f} cm^-1  {name}")
            return 0
        try:
            import pyscf  # noqa: F401
        except ImportError:
            raise DatasetError("pyscf is missing: pip install -r requirements-dataset.txt") from None
        if args.check:
            ref = load(args.out)
            forces, stored, fd = finite_difference_frequencies(ref, [0, len(ref["frequencies_cm1"]) - 1])
            print(f"max |F| at the stored geometry: {np.abs(forces).max():.2e} eV/Å")
            for s, f in zip(stored, fd):
                print(f"frequency: stored {s:.1f} cm^-1, finite differences {f:.1f} cm^-1")
            return 0
        ref = make_reference(log=lambda msg: print(msg, flush=True))
        write_json(ref, args.out)
        print(f"wrote {args.out} ({ref['timing']['total_wall_s']:.0f} s)")
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
