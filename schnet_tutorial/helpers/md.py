"""Molecular dynamics with a trained model: the fast ASE calculator, the start geometry, the
stability monitor, and the files of a run (trajectory, log, GIF).
"""

from schnet_tutorial.helpers import quiet  # noqa: F401  isort: skip (first: quiets SchNetPack's import)
import datetime
import json
import math
import shutil
from pathlib import Path

import numpy as np
import schnetpack.properties as P
import schnetpack.transform as trn
import torch
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.data import covalent_radii
from ase.db import connect
from schnetpack.units import convert_units

from common.settings import fail, warn
from schnet_tutorial.helpers.dataset import (
    DATA_FILE,
    count_frames,
    database_fingerprint,
    molecule_inputs,
    read_frames,
    read_stamp,
)
from schnet_tutorial.helpers.model_files import INFO_FILE, model_cutoff

MIN_DISTANCE_A = 0.5  # two atoms closer than this (Å): no molecule, at the start or along the MD


class MoleculeCalculator(Calculator):
    """ASE calculator: the trained SchNetPack model itself, its inputs built once for one molecule.

    SchNetPack's SpkCalculator rebuilds the model's inputs at every MD step (an ASE neighbour list
    and new tensors). For a molecule every pair of atoms can stay in the neighbour list: the
    model's cutoff function gives pairs beyond the cutoff zero weight (for ethanol and a 5 Å cutoff
    there are none). So the inputs are built once and only the positions change. The energy is
    the model's, the forces its -dE/dR by automatic differentiation (its Forces output module);
    the weights are frozen, so that the backward pass computes no gradients for them.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model, atoms, energy_unit: str = "eV", dtype=torch.float64):
        super().__init__()
        model_cutoff(model)  # all pairs are exact only for a model with a cutoff function
        self.model = model.to(dtype).eval()
        for weight in self.model.parameters():  # MD needs dE/dR only: no gradients of the weights
            weight.requires_grad_(False)
        self.inputs = {
            k: v.to(dtype) if v.is_floating_point() else v
            for k, v in molecule_inputs(atoms.numbers, atoms.positions).items()
        }
        self.numbers, self.dtype = atoms.numbers.copy(), dtype
        self.to_ev = float(convert_units(energy_unit, "eV"))
        self.positions = None

    def check_state(self, atoms, tol=1e-15):
        """What changed since the last call (ASE copies and compares whole Atoms: slow for 9 atoms)."""
        if self.positions is None or not np.array_equal(atoms.numbers, self.numbers) or atoms.pbc.any():
            return ["numbers", "positions"]
        return [] if np.array_equal(atoms.positions, self.positions) else ["positions"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        if not np.array_equal(atoms.numbers, self.numbers) or atoms.pbc.any():
            fail("this calculator was made for one molecule without a periodic cell: use --calculator spk")
        inputs = dict(self.inputs)  # the model adds its outputs to the dictionary it gets
        inputs[P.R] = torch.tensor(atoms.positions, dtype=self.dtype)
        out = self.model(inputs)
        energy = float(out["energy"].detach()[0]) * self.to_ev
        forces = out["forces"].detach().double().numpy() * self.to_ev
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}
        self.positions = atoms.positions.copy()
        self.atoms = atoms  # what ASE's get_property reads; check_state decides on recalculation


def make_calculator(model, atoms, energy_unit: str = "eV", kind: str = "fast"):
    """script3's calculator ("fast": MoleculeCalculator) or SchNetPack's SpkCalculator ("spk")."""
    if kind == "spk":
        from schnetpack.interfaces import SpkCalculator

        neighbours = trn.ASENeighborList(cutoff=model_cutoff(model))
        return SpkCalculator(
            model=model, neighbor_list=neighbours, energy_unit=energy_unit, position_unit="Ang"
        )
    return MoleculeCalculator(model, atoms, energy_unit)


def start_geometry(start: str, model_path: Path, seed: int = 0):
    """The MD start geometry and a few words on where it comes from.

    ``start`` "file" or "file@index" (any file ASE reads) wins. Otherwise a test frame of the
    database the model was trained on (model_info.json and split.npz next to the model): a geometry
    the model never saw. A model without those (e.g. from spktrain) starts from a bundled frame.
    The frame's reference forces (eV/Å), where the data has them, go into
    ``atoms.info["reference_forces_eV_A"]`` for check_model's unit check (which removes them).
    """
    if start:
        start = str(start)
        file, at, index = start.rpartition("@")
        if not at or Path(start).is_file():  # no @, or a file with @ in its name: its first frame
            file, index = start, "0"
        if not Path(file).is_file():
            fail(f"start geometry file not found: {file}")
        index = {"first": "0", "last": "-1"}.get(index.strip().lower(), index.strip())
        if not index.lstrip("-").isdigit():
            fail(
                f"START {start}: after @ comes the number of one frame (0 the first, -1 or last the last), "
                f"got @{index}"
            )
        frames = read_frames(file, ":")
        k = int(index)
        if not -len(frames) <= k < len(frames):
            fail(f"{file} has {len(frames)} frames (0 to {len(frames) - 1}); got @{index}")
        k %= len(frames)  # @-1: the last frame, by its number
        check_distances(frames[k], f"{file}, frame {k}")
        return _with_reference(frames[k]), f"{file}, frame {k}"
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    rng = np.random.default_rng(seed)
    try:
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        test_idx = np.load(folder / "split.npz")["test_idx"]
        db = Path(info["database"])
    except Exception:  # no model_info/split (e.g. spktrain's): a bundled frame
        return _bundled_frame(rng, "the model's own test frames are not known")
    if not db.is_file():
        return _bundled_frame(rng, f"the model's database {db} is gone")
    k = int(rng.choice(test_idx))
    same = _same_data(info, db)
    if not same:  # rebuilt from other data since: the split indexes frames it no longer holds
        warn(
            f"{db.name} was rebuilt from other data since the model {folder.name} was trained: its test "
            "frames are not known, so the start frame may be one it trained on"
        )
        k = int(rng.integers(count_frames(db)))
    conn = connect(str(db), type="db", use_lock_file=False)
    row = conn.get(id=k + 1)
    atoms = row.toatoms()
    try:
        to_ev = convert_units(conn.metadata["_property_unit_dict"]["forces"], "eV/Ang")
        atoms.info["reference_forces_eV_A"] = np.asarray(row.data["forces"], dtype=float) * to_ev
    except Exception:  # a database without forces: no unit check
        pass
    return atoms, f"{db.name}, frame {k}" + (" (test set: not used in training)" if same else "")


def check_distances(atoms, where: str) -> None:
    """Stop with one line if two atoms of a start geometry are closer than MIN_DISTANCE_A: no
    molecule looks like that (a typo in the file, or the wrong unit: Bohr or nm for Å)."""
    if len(atoms) < 2:
        return
    d = atoms.get_all_distances()
    i, j = np.triu_indices(len(atoms), k=1)
    k = int(np.argmin(d[i, j]))
    if d[i[k], j[k]] < MIN_DISTANCE_A:
        symbols = atoms.get_chemical_symbols()
        fail(
            f"the start geometry ({where}) has atoms {symbols[i[k]]}{i[k]} and {symbols[j[k]]}{j[k]} only "
            f"{d[i[k], j[k]]:.2f} Å apart, no molecule looks like that: check the file and its unit (Å)"
        )


def _same_data(info: dict, db) -> bool:
    """True if ``db`` holds the data the model was trained on (its fingerprint; for models made before
    fingerprints, the number of frames and the source script1 built it from)."""
    if "database_fingerprint" in info:
        return info["database_fingerprint"] == database_fingerprint(db)
    known = [k for k in ("n_frames", "data_source") if k in info]
    now = {"n_frames": count_frames(db), "data_source": read_stamp(db)}
    return bool(known) and all(info[k] == now[k] for k in known)


def _bundled_frame(rng, why: str):
    frames = read_frames(DATA_FILE)
    k = int(rng.integers(len(frames)))
    return _with_reference(frames[k]), f"{DATA_FILE.name}, frame {k} ({why})"


def _with_reference(atoms):
    """``atoms`` with the forces of its file (eV/Å), if it has them, in info (see start_geometry)."""
    try:
        atoms.info["reference_forces_eV_A"] = np.array(atoms.get_forces(), dtype=float)
    except Exception:  # no calculator or no forces in the file
        pass
    return atoms


class MDBlowUpError(Exception):
    """The simulation became unphysical (a bond broke, atoms collided, energy not conserved)."""


class StabilityMonitor:
    """Attached to the MD: raises MDBlowUpError when the simulation becomes unphysical.

    Bonds are the atom pairs closer than 1.2 x the sum of covalent radii at the start. The run
    stops when a bond gets longer than ``max_stretch`` x or shorter than ``max_compress`` x its
    start length, two atoms come closer than ``min_distance`` Å, the energy or positions stop being
    finite, or (``max_drift`` in eV/atom, for NVE) the total energy moves more than that.
    """

    def __init__(
        self, atoms, dyn, max_stretch=1.5, max_compress=0.6, max_drift=None, min_distance=MIN_DISTANCE_A
    ):
        self.atoms, self.dyn, self.max_drift, self.min_distance = atoms, dyn, max_drift, min_distance
        self.max_stretch, self.max_compress = max_stretch, max_compress
        self.i, self.j = np.triu_indices(len(atoms), k=1)
        d = np.linalg.norm(atoms.positions[self.j] - atoms.positions[self.i], axis=1)
        radii = covalent_radii[atoms.numbers]
        bonded = d < 1.2 * (radii[self.i] + radii[self.j])
        self.bi, self.bj, self.d0 = self.i[bonded], self.j[bonded], d[bonded]
        self.symbols = atoms.get_chemical_symbols()
        self.e0, self.max_drift_seen, self.ratio_range = None, 0.0, [1.0, 1.0]

    def _stop(self, what):
        t = self.dyn.nsteps * self.dyn.dt / units.fs
        raise MDBlowUpError(f"{what} at step {self.dyn.nsteps} (t = {t:g} fs)")

    def _pair(self, a, b):
        return f"{self.symbols[a]}{a}-{self.symbols[b]}{b}"

    def __call__(self):
        R = self.atoms.positions
        if not np.isfinite(R).all():
            self._stop("positions became NaN/inf")
        d = np.linalg.norm(R[self.bj] - R[self.bi], axis=1)
        ratio = d / self.d0
        self.ratio_range = [min(self.ratio_range[0], ratio.min()), max(self.ratio_range[1], ratio.max())]
        for k, bad, word, bound in (
            (ratio.argmax(), ratio.max() > self.max_stretch, "stretched", self.max_stretch),
            (ratio.argmin(), ratio.min() < self.max_compress, "compressed", self.max_compress),
        ):
            if bad:
                self._stop(
                    f"bond {self._pair(self.bi[k], self.bj[k])} {word} to {d[k]:.2f} Å ({ratio[k]:.2f} x "
                    f"its start length {self.d0[k]:.2f} Å, bound {bound} x)"
                )
        dall = np.linalg.norm(R[self.j] - R[self.i], axis=1)
        if dall.min() < self.min_distance:
            k = dall.argmin()
            self._stop(f"atoms {self._pair(self.i[k], self.j[k])} came {dall[k]:.2f} Å close")
        etot = self.atoms.get_potential_energy() + self.atoms.get_kinetic_energy()
        if not np.isfinite(etot):
            self._stop("the energy became NaN/inf")
        self.e0 = etot if self.e0 is None else self.e0
        drift = abs(etot - self.e0) / len(self.atoms)
        self.max_drift_seen = max(self.max_drift_seen, drift)
        if self.max_drift is not None and drift > self.max_drift:
            self._stop(
                f"the total energy drifted by {drift * 1000:.1f} meV/atom (bound {self.max_drift * 1000:g})"
            )


def new_md_files(folder, stem: str = "simulation") -> tuple[Path, Path]:
    """A trajectory and a log file of this run's own: <stem>_<date-time>[_k].traj/.log, never a
    file of an earlier (or a simultaneous) run. The log is created here, which claims the name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp, k = datetime.datetime.now().strftime("%Y%m%d-%H%M%S"), 1
    while True:
        name = f"{stem}_{stamp}" + (f"_{k}" if k > 1 else "")
        try:
            (folder / f"{name}.log").open("x").close()
            if not (folder / f"{name}.traj").exists():
                return folder / f"{name}.traj", folder / f"{name}.log"
        except FileExistsError:
            pass
        k += 1


def write_gif(traj_path, gif_path, max_frames: int = 100, fps: int = 20) -> int:
    """An animated GIF of a trajectory (matplotlib + Pillow: works without a display)."""
    import matplotlib.pyplot as plt
    from ase.io import read
    from ase.io.animation import write_animation

    images = read(str(traj_path), index=":")
    images = images[:: max(1, math.ceil(len(images) / max_frames))]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.set_axis_off()
    try:
        write_animation(
            str(gif_path),
            images,
            writer="pillow",
            interval=1000 // fps,
            ax=ax,
            rotation="-70x,20y",
            radii=0.4,
        )
    finally:
        plt.close(fig)
    return len(images)


def copy_as(src, dst) -> bool:
    """Copy src to dst through a temporary file (dst is never half-written); False if dst is locked."""
    tmp = Path(dst).with_name(Path(dst).name + ".tmp")
    try:
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        return True
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
