"""The committee of the uncertainty lessons (script5, script6): its trainings, its forces, its
disagreement, MD with it, and new PBE labels for the frames it flags.

A committee is a few models of script2's pipeline that differ in their seed (and, in script5, in
their training frames). Its prediction is the members' mean; its disagreement on a frame is
SchNetPack's ``AbsoluteUncertainty`` of the forces: the standard deviation of the members' force
components, as a length per atom, averaged over the atoms (eV/Å). ``disagreement`` computes that
same number for many frames at once (a test checks it against SchNetPack's).
"""

from schnet_tutorial.helpers import quiet  # noqa: F401  isort: skip (first: quiets SchNetPack's import)
import hashlib
import time

import numpy as np
import schnetpack.transform as trn
from ase import units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixCom
from ase.db import connect
from ase.io.trajectory import Trajectory
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from schnetpack.interfaces.ase_interface import AbsoluteUncertainty, SpkEnsembleCalculator

from common.settings import warn
from schnet_tutorial.helpers import dataset, md, model_files, workers

KCAL = dataset.EV_TO_KCAL_PER_MOL
counts = {"trained": 0, "reused": 0}  # the trainings of this run (train adds to it)


# ---------------------------------------------------------------------------------------------
# Trainings
# ---------------------------------------------------------------------------------------------
def _report(name, result, folder, cached):
    counts["reused" if cached else "trained"] += 1
    if not cached:
        print(
            f"  trained {folder.name}: test force MAE {result['force_mae_kcal_mol_A']:.3f} kcal/mol/Å, "
            f"{result['train_s']:.0f} s",
            flush=True,
        )


def train(jobs: dict, folder, n_workers: int, force: bool) -> dict:
    """Run the trainings ``jobs`` ({name: settings}), reusing finished ones: {name: model folder}.
    Members that learned nothing, or are far from usable, are said in one line (they still count)."""
    workers.run_all(jobs, folder, n_workers, force, say=_report)
    places = workers.folders(jobs, folder)
    poor = [place.name for place in places.values() if model_files.quality(model_files.model_info(place))]
    if poor:
        warn(
            f"{len(poor)} of {len(places)} committee members learned nothing or are far from usable (test "
            f"force MAE above {model_files.FAR_FROM_USABLE:.0%} of guessing zero forces: "
            f"{', '.join(poor[:3])}{', ...' if len(poor) > 3 else ''}): their disagreement says little; "
            "raise STEPS or the training frames"
        )
    return places


def _remedy(folder) -> str:
    """What to do about a committee member's missing or broken model file: it is a cached training."""
    return (
        f"a cached committee training: delete its folder {model_files.shown(folder)} and run the script "
        "again (it trains that one again), or rerun with --force (trains every one again)"
    )


def trainings_done(folder) -> str:
    return (
        f"trainings: {counts['trained']} trained, {counts['reused']} reused from {model_files.shown(folder)}"
    )


# ---------------------------------------------------------------------------------------------
# Forces, disagreement, error
# ---------------------------------------------------------------------------------------------
def reference_forces(inputs) -> np.ndarray:
    """The DFT forces of input dictionaries (eV/Å): (frames, atoms, 3)."""
    return np.array([d["forces"].numpy() for d in inputs])


def member_forces(folders, inputs) -> np.ndarray:
    """Each member's forces (eV/Å) on input dictionaries: (members, frames, atoms, 3)."""
    inputs = [trn.CastTo32()(dict(d)) for d in inputs]
    models = [model_files.load_model(f, remedy=_remedy(f)) for f in folders]
    found = [model_files.predict_energy_forces(model, inputs)[1] for model in models]
    return np.array(found).reshape(len(folders), len(inputs), -1, 3)


def disagreement(forces) -> np.ndarray:
    """Per frame, SchNetPack's AbsoluteUncertainty: the members' standard deviation of each force
    component, as a length per atom, averaged over the atoms (eV/Å)."""
    return np.linalg.norm(forces.std(axis=0), axis=-1).mean(axis=-1)


def true_error(forces, reference) -> np.ndarray:
    """Per frame, the same measure of the committee mean's error: the length of the error of each
    atom's force, averaged over the atoms (eV/Å)."""
    return np.linalg.norm(forces.mean(axis=0) - reference, axis=-1).mean(axis=-1)


def force_mae(forces, reference) -> float:
    """The mean absolute error of the committee mean's force components (kcal/mol/Å)."""
    return float(np.abs(forces.mean(axis=0) - reference).mean() * KCAL)


# ---------------------------------------------------------------------------------------------
# The committee as an ASE calculator, and MD with it
# ---------------------------------------------------------------------------------------------
def calculator(folders) -> SpkEnsembleCalculator:
    """SchNetPack's ensemble calculator of the models in ``folders`` (energies in eV): the mean energy
    and forces of the members, and ``results["uncertainty"]``, their AbsoluteUncertainty (eV/Å)."""
    models = [model_files.load_model(f, remedy=_remedy(f)) for f in folders]
    cutoff = trn.ASENeighborList(cutoff=model_files.model_cutoff(models[0]))
    return SpkEnsembleCalculator(models, cutoff, energy_unit="eV", uncertainty_fn=AbsoluteUncertainty())


def start_frame(db_path, frames, seed: int):
    """One of ``frames`` of the database (chosen by ``seed``) as ASE Atoms, and its index."""
    k = int(np.random.default_rng(seed).choice(frames))
    return connect(str(db_path), type="db", use_lock_file=False).get(id=k + 1).toatoms(), k


def run_md(
    calc,
    start,
    temperature_k,
    steps,
    timestep_fs,
    friction_per_fs,
    threshold,
    folder,
    seed=0,
    traj_interval=5,
) -> dict:
    """Langevin MD of ``start`` driven by the committee's mean forces, its disagreement recorded at
    every step. Steps with a disagreement above ``threshold`` (eV/Å) are flagged. A run that breaks
    the molecule (md.StabilityMonitor, script3's rule) stops with a warning; its steps are kept.
    Writes <folder>/uncertainty_<T>K_<date-time>.traj and .log; returns time (fs), potential energy
    (eV), temperature (K), disagreement (eV/Å), flagged, positions (Å) of every step, why it stopped
    ("" if it did not) and the trajectory's path."""
    atoms = start.copy()
    atoms.set_constraint(FixCom())
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature_k, exact_temperature=True, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    atoms.calc = calc
    dyn = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature_k,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    traj_path, log_path = md.new_md_files(folder, f"uncertainty_{temperature_k:g}K")
    rows, stopped, t0 = [], "", time.perf_counter()
    with (
        Trajectory(str(traj_path), "w", atoms, properties=["energy", "forces"]) as traj,
        open(log_path, "w", encoding="utf-8") as log,
    ):
        log.write(
            f"# committee MD, Langevin {temperature_k:g} K; flagged: disagreement > {threshold:.4f} eV/Å\n"
            "# time_fs epot_eV temperature_K disagreement_eV_A flagged\n"
        )

        def record():
            epot, sigma = atoms.get_potential_energy(), float(calc.results["uncertainty"])
            rows.append(
                (dyn.get_time() / units.fs, epot, atoms.get_temperature(), sigma, atoms.positions.copy())
            )
            if dyn.nsteps % traj_interval == 0:
                traj.write()
                log.write(
                    f"{rows[-1][0]:.1f} {epot:.5f} {rows[-1][2]:.1f} {sigma:.5f} {int(sigma > threshold)}\n"
                )

        dyn.attach(md.StabilityMonitor(atoms, dyn), interval=1)
        dyn.attach(record, interval=1)
        try:
            dyn.run(steps)
        except md.MDBlowUpError as exc:
            stopped = str(exc)
            log.write(f"# STOPPED: {exc}\n")
            warn(f"the {temperature_k:g} K run stopped: {exc}; the {len(rows)} steps before are kept")
    t_fs, epot, temperature, sigma = (np.array([row[i] for row in rows]) for i in range(4))
    return {
        "t_fs": t_fs,
        "epot": epot,
        "temperature": temperature,
        "sigma": sigma,
        "flagged": sigma > threshold,
        "positions": np.array([row[4] for row in rows]),
        "stopped": stopped,
        "traj": traj_path,
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------------------
# New labels: PBE for flagged frames (the data set's own calculation), and a database with them
# ---------------------------------------------------------------------------------------------
def pbe_labels(symbols, positions, folder):
    """PBE/def2-SVP energies (eV) and forces (eV/Å) of geometries (Å), by make_ethanol_dataset's own
    function (PySCF), and the seconds they took; kept in ``folder`` (a rerun does not compute them
    again)."""
    digest = hashlib.sha1(np.round(positions, 6).tobytes()).hexdigest()[:8]
    path = folder / f"pbe_labels_{digest}.npz"
    if path.is_file():
        saved = np.load(path)
        print(f"PBE labels of {len(positions)} frames reused from {model_files.shown(path)}")
        return saved["energies"], saved["forces"], float(saved["seconds"])
    from schnet_tutorial.generators.make_ethanol_dataset import pbe_energy_forces

    print(f"labelling {len(positions)} frames with PBE/def2-SVP (PySCF) ...", flush=True)
    t0 = time.perf_counter()
    energies, forces = map(np.array, zip(*[pbe_energy_forces(symbols, p) for p in positions]))
    seconds = time.perf_counter() - t0
    tmp = folder / f"pbe_labels_{digest}.tmp.npz"
    np.savez(tmp, energies=energies, forces=forces, seconds=seconds)
    tmp.replace(path)
    return energies, forces, seconds


def with_new_frames(db_path, atoms, positions, energies, forces, folder):
    """A copy of the database with the new labelled frames after its own (made once): its path and
    the indices of the new frames in it."""
    n_frames = dataset.count_frames(db_path)
    digest = hashlib.sha1(np.round(positions, 6).tobytes()).hexdigest()[:8]
    new_db = folder / f"relabelled_{digest}.db"
    stamp = {"source": str(db_path), "added_frames": digest}
    if not dataset.database_is_current(new_db, stamp):
        e_old, f_old, per_frame = dataset.read_energies_forces(db_path)
        frames = []
        for k, row in enumerate(connect(str(db_path), type="db", use_lock_file=False).select()):
            frames.append(row.toatoms())
            frames[-1].calc = SinglePointCalculator(
                frames[-1], energy=e_old[k], forces=f_old[k * per_frame : (k + 1) * per_frame]
            )
        for p, energy, f in zip(positions, energies, forces):
            frames.append(atoms.copy())
            frames[-1].positions = p
            frames[-1].calc = SinglePointCalculator(frames[-1], energy=energy, forces=f)
        dataset.build_database(frames, new_db)
        dataset.write_stamp(new_db, stamp)
    return new_db, n_frames + np.arange(len(positions))
