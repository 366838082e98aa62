"""Make the ethanol reference data of the SchNet tutorial: PBE/def2-SVP energies and forces.

The slide "Getting to molecular dynamics in 1 minute" trains SchNet on "1000 data points of an
ethanol DFT (PBE) MD trajectory". The public MD17/rMD17 files cannot be bundled here, so the project
makes its own, at rMD17's level of theory, and ships the result
(``schnet_tutorial/data/ethanol_pbe.xyz.gz`` plus ``ethanol_pbe.json`` with the metadata).

How the frames are made
  1. Sample: Langevin molecular dynamics of one ethanol molecule at 500 K with GFN2-xTB (tblite),
     0.5 fs steps. Several independent chains (seeds SEED + chain), each thermalised for
     THERMALISE_STEPS first, then one frame every STRIDE_STEPS (25 fs, longer than the
     velocity decorrelation time of ethanol's vibrations). Frame i belongs to chain
     i // FRAMES_PER_CHAIN, so the first frames of a file can be regenerated on their own.
  2. Label: PBE/def2-SVP energy and forces with PySCF (density fitting, def2-universal-jkfit),
     one frame per process, in parallel. Finished frames are appended to a work file at once,
     so an interrupted run loses nothing and a restart skips what is done.
  3. Assemble: frames sorted by index, energies in eV and forces in eV/Å, written as extended XYZ
     (gzip-compressed; ``ase.io.read`` reads it directly) and the metadata as JSON.

Optional dependencies (not in the base install): ``pip install -r requirements-dataset.txt``.

Usage
  python schnet_tutorial/generators/make_ethanol_dataset.py               # 2,000 frames, all cores
  python schnet_tutorial/generators/make_ethanol_dataset.py --frames 3000 # extend (reuses done frames)
  python schnet_tutorial/generators/make_ethanol_dataset.py --frames 4 --out /tmp/check.xyz.gz  # reproduce
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / "data"

# ---- settings of the shipped data set (changing any of them makes a different data set) ----------
N_FRAMES = 2000
FRAMES_PER_CHAIN = 250  # frame i comes from chain i // FRAMES_PER_CHAIN
SEED = 20261124  # chain c uses seed SEED + c
TEMPERATURE_K = 500.0
TIMESTEP_FS = 0.5
FRICTION_PER_FS = 0.01  # Langevin friction (1/fs)
THERMALISE_STEPS = 2000  # 1 ps before the first frame of a chain
STRIDE_STEPS = 50  # 25 fs between frames
SAMPLER = "GFN2-xTB"
XC = "PBE"
BASIS = "def2-SVP"
AUXBASIS = "def2-universal-jkfit"
CONV_TOL = 1e-10  # Hartree
GRID_LEVEL = 3

DEFAULT_OUT = DATA_DIR / "ethanol_pbe.xyz.gz"
HARTREE_EV = 27.211386245988  # CODATA 2018, as ASE
BOHR_ANGSTROM = 0.529177210903


class DatasetError(Exception):
    """A problem the user can fix; reported as one line."""


# ---------------------------------------------------------------------------------------------------
# 1. Sampling with GFN2-xTB
# ---------------------------------------------------------------------------------------------------
def start_geometry():
    """Ethanol in MD17's atom order (C, C, O, H x 6), from ASE's molecule database."""
    from ase.build import molecule

    atoms = molecule("CH3CH2OH")
    assert atoms.get_chemical_symbols() == ["C", "C", "O"] + ["H"] * 6
    return atoms


def sample_chain(chain: int, n_frames: int, settings: dict) -> list[dict]:
    """Run one Langevin chain with GFN2-xTB and return its first ``n_frames`` frames."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from tblite.ase import TBLite

    rng = np.random.default_rng(settings["seed"] + chain)
    atoms = start_geometry()
    atoms.calc = TBLite(method=settings["sampler"], verbosity=0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=settings["temperature_K"], rng=rng)
    dyn = Langevin(
        atoms,
        timestep=settings["timestep_fs"] * units.fs,
        temperature_K=settings["temperature_K"],
        friction=settings["friction_per_fs"] / units.fs,
        fixcm=False,
        rng=rng,
    )
    dyn.run(settings["thermalise_steps"])
    frames = []
    step = settings["thermalise_steps"]
    for k in range(n_frames):
        dyn.run(settings["stride_steps"])
        step += settings["stride_steps"]
        pos = atoms.get_positions()
        pos = pos - atoms.get_center_of_mass()
        frames.append(
            {
                "frame": chain * settings["frames_per_chain"] + k,
                "chain": chain,
                "step": step,
                "positions": pos,
            }
        )
    return frames


def _sample_chain_job(args):
    return sample_chain(*args)


# ---------------------------------------------------------------------------------------------------
# 2. Labelling with PySCF
# ---------------------------------------------------------------------------------------------------
def pbe_energy_forces(symbols, positions, **settings):
    """Energy (eV) and forces (eV/Å) of one geometry (Å) from a PySCF Kohn-Sham calculation;
    ``settings`` are pbe_scf's (xc, basis, auxbasis, conv_tol, grid_level, density_fit)."""
    mf, energy = pbe_scf(symbols, positions, **settings)
    grad = mf.nuc_grad_method().kernel()  # Hartree/Bohr
    return energy * HARTREE_EV, -np.asarray(grad) * HARTREE_EV / BOHR_ANGSTROM


def pbe_scf(
    symbols,
    positions,
    xc=XC,
    basis=BASIS,
    auxbasis=AUXBASIS,
    conv_tol=CONV_TOL,
    grid_level=GRID_LEVEL,
    density_fit=True,
):
    """The converged PySCF Kohn-Sham object of one geometry (Å) and its energy (Hartree)."""
    from pyscf import dft, gto

    mol = gto.M(
        atom=list(zip(symbols, np.asarray(positions).tolist())),
        basis=basis,
        unit="Angstrom",
        charge=0,
        spin=0,
        verbose=0,
    )
    mf = dft.RKS(mol)
    mf.xc = xc
    mf.conv_tol = conv_tol
    mf.max_cycle = 100
    mf.grids.level = grid_level
    if density_fit:
        mf = mf.density_fit(auxbasis=auxbasis)
    energy = mf.kernel()
    if not mf.converged:  # fall back to second-order SCF before giving up
        mf = mf.newton()
        energy = mf.kernel()
        if not mf.converged:
            raise DatasetError("SCF did not converge")
    return mf, energy


def _label_job(args):
    frame, symbols, settings = args
    t0 = time.perf_counter()
    energy, forces = pbe_energy_forces(
        symbols,
        frame["positions"],
        xc=settings["xc"],
        basis=settings["basis"],
        auxbasis=settings["auxbasis"],
        conv_tol=settings["conv_tol"],
        grid_level=settings["grid_level"],
    )
    return frame, energy, forces, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------
def _to_atoms(frame, symbols, energy=None, forces=None):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms(symbols=symbols, positions=frame["positions"])
    atoms.info.update(frame=int(frame["frame"]), chain=int(frame["chain"]), step=int(frame["step"]))
    if energy is not None:
        atoms.calc = SinglePointCalculator(atoms, energy=float(energy), forces=np.asarray(forces))
    return atoms


def _from_atoms(atoms):
    frame = {k: int(atoms.info[k]) for k in ("frame", "chain", "step")}
    frame["positions"] = atoms.get_positions()
    return frame


def read_frames_tolerant(path: Path):
    """Read an extended XYZ work file, dropping a last frame cut off by an interrupted run."""
    from ase.io import iread

    frames = []
    if not path.exists():
        return frames
    try:
        for atoms in iread(str(path), index=":", format="extxyz"):
            frames.append(atoms)
    except Exception:  # a frame cut short: keep the good ones and rewrite the file
        from ase.io import write

        write(str(path), frames, format="extxyz")
    return frames


def settings_dict(args) -> dict:
    return {
        "sampler": SAMPLER,
        "seed": args.seed,
        "temperature_K": TEMPERATURE_K,
        "timestep_fs": TIMESTEP_FS,
        "friction_per_fs": FRICTION_PER_FS,
        "thermalise_steps": THERMALISE_STEPS,
        "stride_steps": STRIDE_STEPS,
        "frames_per_chain": FRAMES_PER_CHAIN,
        "xc": args.xc,
        "basis": args.basis,
        "auxbasis": AUXBASIS,
        "conv_tol": CONV_TOL,
        "grid_level": GRID_LEVEL,
    }


def _key(settings: dict, names) -> str:
    text = json.dumps({k: settings[k] for k in names}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


SAMPLE_KEYS = (
    "sampler",
    "seed",
    "temperature_K",
    "timestep_fs",
    "friction_per_fs",
    "thermalise_steps",
    "stride_steps",
    "frames_per_chain",
)


def work_files(work_dir: Path, settings: dict) -> tuple[Path, Path]:
    skey = _key(settings, SAMPLE_KEYS)
    lkey = _key(settings, SAMPLE_KEYS + ("xc", "basis", "auxbasis", "conv_tol", "grid_level"))
    return work_dir / f"geometries_{skey}.xyz", work_dir / f"labels_{lkey}.xyz"


def _pool(workers: int):
    # spawn: the same on Linux, macOS and Windows; one thread per process
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    return multiprocessing.get_context("spawn").Pool(workers)


def stage_sample(n_frames, settings, geom_path, workers, log):
    from ase.io import write

    symbols = start_geometry().get_chemical_symbols()
    have = {_from_atoms(a)["frame"]: a for a in read_frames_tolerant(geom_path)}
    fpc = settings["frames_per_chain"]
    jobs = []
    for chain in range((n_frames + fpc - 1) // fpc):
        need = min(fpc, n_frames - chain * fpc)
        if not all(chain * fpc + k in have for k in range(need)):
            jobs.append((chain, need, settings))
    if jobs:
        t0 = time.perf_counter()
        log(
            f"sampling {sum(j[1] for j in jobs)} frames in {len(jobs)} GFN2-xTB chains "
            f"({min(workers, len(jobs))} processes)"
        )
        with _pool(min(workers, len(jobs))) as pool:
            for frames in pool.imap_unordered(_sample_chain_job, jobs):
                for f in frames:
                    have[f["frame"]] = _to_atoms(f, symbols)
        geom_path.parent.mkdir(parents=True, exist_ok=True)
        write(str(geom_path), [have[i] for i in sorted(have)], format="extxyz")
        log(f"sampling took {time.perf_counter() - t0:.1f} s")
    return [_from_atoms(have[i]) for i in range(n_frames)], symbols


def stage_label(frames, symbols, settings, label_path, workers, log, from_end=False):
    from ase.io import write

    done = {int(a.info["frame"]) for a in read_frames_tolerant(label_path)}
    todo = [f for f in frames if f["frame"] not in done]
    if from_end:  # lets a second machine work on the same data set from the other end
        todo.reverse()
    log(
        f"labelling: {len(done)} frames done, {len(todo)} to do with {settings['xc']}/"
        f"{settings['basis']} on {workers} processes"
    )
    if not todo:
        return 0.0
    t0 = time.perf_counter()
    label_path.parent.mkdir(parents=True, exist_ok=True)
    with _pool(workers) as pool, open(label_path, "a") as fh:
        for i, (frame, energy, forces, dt) in enumerate(
            pool.imap_unordered(_label_job, [(f, symbols, settings) for f in todo]), 1
        ):
            atoms = _to_atoms(frame, symbols, energy, forces)
            atoms.info["label_s"] = round(dt, 2)  # CPU seconds of this frame (work file only)
            write(fh, atoms, format="extxyz")
            fh.flush()
            os.fsync(fh.fileno())
            if i % 50 == 0 or i == len(todo):
                el = time.perf_counter() - t0
                log(f"  {i}/{len(todo)} frames, {el:.0f} s, {el / i * workers:.1f} s per frame per process")
    return time.perf_counter() - t0


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("numpy", "pyscf", "tblite", "ase"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def stage_assemble(frames, symbols, settings, label_path, out_path, timing, log):
    from ase.io import write

    labelled = {int(a.info["frame"]): a for a in read_frames_tolerant(label_path)}
    missing = [f["frame"] for f in frames if f["frame"] not in labelled]
    if missing:
        raise DatasetError(f"{len(missing)} frames are not labelled yet; run the label stage")
    atoms_list = [labelled[f["frame"]] for f in frames]
    timing["labelling_cpu_s_total"] = round(sum(a.info.pop("label_s", 0.0) for a in atoms_list), 1)
    timing["labelling_cpu_s_per_frame"] = round(timing["labelling_cpu_s_total"] / len(atoms_list), 2)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    if out_path.suffix == ".gz":
        with gzip.open(tmp, "wt") as fh:
            write(fh, atoms_list, format="extxyz")
    else:
        write(str(tmp), atoms_list, format="extxyz")
    os.replace(tmp, out_path)
    energies = np.array([a.get_potential_energy() for a in atoms_list])
    forces = np.array([a.get_forces() for a in atoms_list])
    meta = {
        "description": "Ethanol, 500 K GFN2-xTB Langevin MD geometries labelled with DFT",
        "level_of_theory": f"{settings['xc']}/{settings['basis']} (PySCF, density fitting "
        f"{settings['auxbasis']}, grid level {settings['grid_level']}, "
        f"conv_tol {settings['conv_tol']} Ha)",
        "program": "PySCF",
        "n_frames": len(atoms_list),
        "n_atoms": len(symbols),
        "species": symbols,
        "units": {"energy": "eV", "forces": "eV/Angstrom", "positions": "Angstrom"},
        "energy_range_eV": [float(energies.min()), float(energies.max())],
        "mean_abs_force_component_eV_per_A": float(np.abs(forces).mean()),
        "mean_force_norm_eV_per_A": float(np.linalg.norm(forces, axis=-1).mean()),
        "sampling": {k: settings[k] for k in SAMPLE_KEYS},
        "seeds": f"chain c uses numpy.random.default_rng({settings['seed']} + c)",
        "frame_info_keys": {"frame": "index", "chain": "MD chain", "step": "MD step in chain"},
        "versions": versions(),
        "timing": timing,
        "generator": "schnet_tutorial/generators/make_ethanol_dataset.py",
    }
    meta_path = out_path.with_name(out_path.name.split(".")[0] + ".json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    log(f"wrote {out_path} ({len(atoms_list)} frames) and {meta_path.name}")
    log(
        f"energy range {energies.min():.3f} .. {energies.max():.3f} eV, "
        f"mean |F| component {np.abs(forces).mean():.3f} eV/Å"
    )
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=N_FRAMES, help="number of frames (default %(default)s)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .xyz or .xyz.gz")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=DATA_DIR / "work",
        help="where sampled geometries and finished labels are kept for resuming",
    )
    p.add_argument("--stage", choices=["all", "sample", "label", "assemble"], default="all")
    p.add_argument(
        "--from-end",
        action="store_true",
        help="label the last frames first (to share the work with another machine)",
    )
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--xc", default=XC)
    p.add_argument("--basis", default=BASIS)
    args = p.parse_args(argv)
    try:
        if args.frames < 1:
            raise DatasetError(f"--frames must be >= 1, got {args.frames}")
        if args.workers < 1:
            raise DatasetError(f"--workers must be >= 1, got {args.workers}")
        if not str(args.out).endswith((".xyz", ".xyz.gz")):
            raise DatasetError(f"--out must end in .xyz or .xyz.gz, got {args.out}")
        for mod in ("tblite", "pyscf"):
            try:
                __import__(mod)
            except ImportError:
                if mod == "pyscf" or args.stage in ("all", "sample"):
                    raise DatasetError(f"{mod} is missing: pip install -r requirements-dataset.txt") from None
        settings = settings_dict(args)
        geom_path, label_path = work_files(args.work_dir, settings)
        log = lambda msg: print(msg, flush=True)  # noqa: E731
        t0 = time.perf_counter()
        frames, symbols = stage_sample(args.frames, settings, geom_path, args.workers, log)
        if args.stage == "sample":
            return 0
        t_label = 0.0
        if args.stage in ("all", "label"):
            t_label = stage_label(frames, symbols, settings, label_path, args.workers, log, args.from_end)
            if args.stage == "label":
                return 0
        timing = {}  # labelling CPU time is summed from the work file in stage_assemble
        if args.stage == "all" and t_label > 0:
            timing = {"this_run_wall_s": round(time.perf_counter() - t0, 1), "workers": args.workers}
        stage_assemble(frames, symbols, settings, label_path, args.out, timing, log)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
