"""What the SchNet scripts share: the data, the model files and a fast ASE calculator for MD.

``from schnet_tutorial import tools`` in script1 (data), script2 (training), script3 (MD) and the
benchmarks. Everything a student should read is in the scripts; this module holds the plumbing:

  data          read_frames, build_database, source_stamp, database_is_current, write_stamp,
                count_frames, read_energies_forces, load_inputs, molecule_inputs, split_indices
  training      new_folder, SettingsLogger (TensorBoard's HPARAMS table), count_parameters, predict
  model files   save_model_info, newest_model, load_model, model_energy_unit, model_cutoff
  MD            MoleculeCalculator, make_calculator, start_geometry, StabilityMonitor, MDBlowUpError,
                new_md_files, copy_as, write_gif, shown

A model folder (script2 writes a new one per run under models/, never overwriting one) holds
  best_model       the model of the best validation loss: a standard SchNetPack model file (torch.save
                   of the NeuralNetworkPotential; absolute energies in eV, forces in eV/Å), the file
                   SchNetPack's SpkCalculator and its MD engine (spkmd) load;
  best.ckpt        Lightning's checkpoint of that epoch (to resume training);
  split.npz        the frame indices (train_idx, val_idx, test_idx) of the database;
  model_info.json  settings, units, the database, test errors: written last, when the model is done.
Problems a user can fix stop the script with one line ``error: ...`` (common.settings.fail).
"""

# ruff: noqa: E402
# (the warning filter below comes before the imports it is for)
import warnings

# SchNetPack's import calls torch.jit.script, which PyTorch now flags as deprecated: not the student's
# concern. Set here, not in __init__.py: a folder named schnet_tutorial in the working directory (an
# output folder) can shadow the package's __init__ in a notebook kernel.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)

import atexit
import datetime
import gzip
import io
import json
import logging
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import schnetpack as spk
import schnetpack.properties as P
import schnetpack.transform as trn
import torch
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.data import covalent_radii
from ase.db import connect
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from schnetpack.data.loader import _atoms_collate_fn
from schnetpack.units import convert_units
from torch.utils.tensorboard import SummaryWriter

from common.runs import MODELS_DIR, SCHNET_DATA_DIR, log_hparams, new_run_dir
from common.settings import fail

# Lightning's notes that do not concern a student here (data in memory need no workers; SchNetPack's
# task stores the model in its hyperparameters; the model folder holds split.npz; ...)
for _message in (
    ".*does not have many workers",
    ".*is an instance of `nn.Module` and is already saved",
    ".*Checkpoint directory .* exists and is not empty",
    ".*isinstance\\(treespec, LeafSpec\\)",
    ".*Trying to infer the `batch_size`",
    ".*sync_dist=True",
    ".*Grad strides do not match",
    ".*smaller than the logging interval",
):
    warnings.filterwarnings("ignore", message=_message)
for _name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
    logging.getLogger(_name).setLevel(logging.WARNING)  # "GPU available: False", tips, ...

DATA_FILE = SCHNET_DATA_DIR / "ethanol_pbe.xyz.gz"  # the bundled PBE/def2-SVP frames (eV, eV/Å)
EV_TO_KCAL_PER_MOL = 23.060548
MODEL_FILE, INFO_FILE = "best_model", "model_info.json"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def read_frames(path, index=":"):
    """ASE Atoms of an extended XYZ file (or any file ASE reads; .gz read in one go: ASE seeks slowly)."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        fail(f"file {path} not found")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                frames = read(io.StringIO(fh.read()), index=index, format="extxyz")
        else:
            frames = read(str(path), index=index)
    except Exception as exc:  # ASE raises many kinds for a corrupt file
        fail(f"cannot read {path}: {first_line(exc)}")
    return frames


def build_database(frames, db_path) -> None:
    """A SchNetPack database (ASEAtomsData, SQLite) of frames with energy (eV) and forces (eV/Å).

    Written to a temporary file and renamed at the end: an interrupted build leaves nothing behind.
    """
    try:
        props = [{"energy": np.array([a.get_potential_energy()]), "forces": a.get_forces()} for a in frames]
    except Exception as exc:
        fail(f"the frames need an energy (eV) and forces (eV/Å): {first_line(exc)}")
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(db_path.stem + ".tmp.db")
    tmp.unlink(missing_ok=True)
    data = spk.data.ASEAtomsData.create(
        str(tmp), distance_unit="Ang", property_unit_dict={"energy": "eV", "forces": "eV/Ang"}
    )
    with data.conn:  # one SQLite transaction for all frames (one per frame is 5x slower)
        data.add_systems(props, [a.copy() for a in frames])
    del data
    tmp.replace(db_path)


def _stamp_file(db_path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".source.json")


def database_is_current(db_path, stamp: dict) -> bool:
    """True if ``db_path`` was built from the source ``stamp`` describes (path, size, time) and opens."""
    try:
        same = json.loads(_stamp_file(db_path).read_text(encoding="utf-8")) == stamp
        return same and connect(str(db_path), type="db", use_lock_file=False).count() > 0
    except Exception:  # no stamp, or a truncated / corrupt database: rebuild
        return False


def write_stamp(db_path, stamp: dict) -> None:
    _stamp_file(db_path).write_text(json.dumps(stamp), encoding="utf-8")


def source_stamp(path) -> dict:
    st = Path(path).stat()
    return {"source": str(Path(path).resolve()), "size": st.st_size, "mtime": st.st_mtime}


def _open_database(db_path):
    """(connection, unit factors to eV and Å) of a SchNetPack database; one-line error if it is not one."""
    db_path = Path(db_path)
    if not db_path.is_file():
        fail(f"database {db_path} not found: run script1_prepare_data.py first")
    try:
        conn = connect(str(db_path), type="db", use_lock_file=False)
        meta = conn.metadata
        units = meta["_property_unit_dict"]
        scale = {
            "energy": convert_units(units["energy"], "eV"),
            "forces": convert_units(units["forces"], "eV/Ang"),
            "R": convert_units(meta.get("_distance_unit", "Ang"), "Ang"),
        }
        if conn.count() == 0:
            fail(f"database {db_path} is empty: rebuild it with script1_prepare_data.py --force true")
    except Exception as exc:
        fail(
            f"cannot read database {db_path} ({first_line(exc)}): rebuild it with "
            "script1_prepare_data.py --force true"
        )
    return conn, scale


def count_frames(db_path) -> int:
    return _open_database(db_path)[0].count()


def read_energies_forces(db_path):
    """Energies (eV, one per frame), forces (eV/Å, all atoms stacked) and the atoms per frame."""
    conn, s = _open_database(db_path)
    rows = list(conn.select())
    energies = np.array([float(np.ravel(r.data["energy"])[0]) for r in rows]) * s["energy"]
    forces = np.concatenate([np.asarray(r.data["forces"]) for r in rows]) * s["forces"]
    return energies, forces, rows[0].natoms


def molecule_inputs(numbers, positions, cutoff=None) -> dict:
    """SchNetPack's input dictionary of one molecule (no periodic cell), float64.

    The neighbour list holds every ordered atom pair (i, j), i != j, closer than ``cutoff``
    (every pair when ``cutoff`` is None), in the order SchNetPack's ASENeighborList gives.
    """
    z = torch.tensor(np.array(numbers), dtype=torch.long)
    pos = torch.as_tensor(np.asarray(positions, dtype=np.float64))
    pair = ~torch.eye(len(z), dtype=torch.bool)
    if cutoff is not None:
        pair &= torch.cdist(pos, pos) < cutoff
    i, j = torch.nonzero(pair, as_tuple=True)
    return {
        P.Z: z,
        P.R: pos,
        P.n_atoms: torch.tensor([len(z)]),
        P.idx_m: torch.zeros(len(z), dtype=torch.long),
        P.cell: torch.zeros(1, 3, 3, dtype=torch.float64),
        P.pbc: torch.zeros(3, dtype=torch.bool),
        P.idx_i: i,
        P.idx_j: j,
        P.offsets: torch.zeros(len(i), 3, dtype=torch.float64),
    }


def load_inputs(db_path, cutoff: float, *index_sets):
    """The model inputs of the frames in each of ``index_sets``, with energy (eV) and forces (eV/Å).

    The same dictionaries as ``spk.data.ASEAtomsData(db, transforms=[trn.ASENeighborList(cutoff)])[i]``
    (a test checks it), made 4x faster: all rows in one query, and for a molecule the neighbour list
    is every pair closer than the cutoff. Periodic frames use SchNetPack's ASENeighborList.
    Returns one list of dictionaries (float64) per index set.
    """
    conn, s = _open_database(db_path)
    rows = list(conn.select())  # one query for all frames: much faster than one per frame
    result = []
    for indices in index_sets:
        inputs = []
        for k in indices:
            row = rows[int(k)]
            d = molecule_inputs(row.numbers, row.positions * s["R"], cutoff)
            del d[P.idx_m]  # the data loader adds it when it makes a batch
            if row.pbc.any():
                d.update({P.cell: torch.as_tensor(row.cell[None] * s["R"]), P.pbc: torch.as_tensor(row.pbc)})
                d = trn.ASENeighborList(cutoff=cutoff)(d)
            d[P.idx] = torch.tensor([int(k)])
            d["energy"] = torch.tensor(
                [float(np.ravel(row.data["energy"])[0]) * s["energy"]], dtype=torch.float64
            )
            d["forces"] = torch.as_tensor(np.asarray(row.data["forces"]) * s["forces"])
            inputs.append(d)
        result.append(inputs)
    return result


def split_indices(n_frames: int, n_train: int, n_val: int, n_test: int = 0, seed: int = 0):
    """Random training, validation and test frame indices (test: n_test of the rest, 0 = all)."""
    if n_train + n_val >= n_frames:
        fail(f"N_TRAIN + N_VAL = {n_train + n_val} leaves no test frames of {n_frames}; lower them")
    perm = np.random.default_rng(seed).permutation(n_frames)
    rest = perm[n_train + n_val :]
    return perm[:n_train], perm[n_train : n_train + n_val], rest[:n_test] if n_test else rest


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def new_folder(base, name: str) -> Path:
    """A new folder base/name (name_2, ... if taken). With several GPUs or nodes only the first
    process makes it; the others get a temporary folder (they write nothing that is kept)."""
    if rank_zero_only.rank != 0:
        folder = Path(tempfile.mkdtemp(prefix=f"rank{rank_zero_only.rank}_"))
        atexit.register(shutil.rmtree, folder, True)
        return folder
    return new_run_dir(Path(base), name)


class SettingsLogger(TensorBoardLogger):
    """Lightning's TensorBoardLogger, with TensorBoard's HPARAMS table written as the other scripts do.

    Lightning's own ``log_hyperparams`` writes an "experiment" summary that hides the settings of
    every other script's runs in the same runs/ folder. Here it writes only this run's settings
    and its final metrics (``common.runs.log_hparams``), and only when called with metrics:
    Lightning's automatic call at the start (the task's arguments) writes nothing.
    """

    def log_hyperparams(self, params, metrics=None):
        if metrics:  # (Lightning closed its own writer when training ended)
            with SummaryWriter(self.log_dir) as writer:
                log_hparams(writer, dict(params), metrics)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def predict(model, inputs, batch_size: int = 250):
    """Energies (eV, per frame) and forces (eV/Å, per atom) of ``model`` on input dictionaries."""
    energies, forces = [], []
    for start in range(0, len(inputs), batch_size):
        batch = {k: v.clone() for k, v in _atoms_collate_fn(inputs[start : start + batch_size]).items()}
        out = model(batch)
        energies.append(out["energy"].detach().double().numpy())
        forces.append(out["forces"].detach().double().numpy())
    return np.concatenate(energies), np.concatenate(forces)


# ---------------------------------------------------------------------------------------------
# Model files
# ---------------------------------------------------------------------------------------------
def save_model_info(model_dir, db_path, train_data, mean_energy_per_atom, settings, results) -> None:
    """Write model_info.json: units, data, settings and test errors. Written last, it marks the model
    as finished (newest_model only takes folders that have it)."""
    source = Path(db_path).with_name(Path(db_path).name + ".source.json")
    info = {
        "model_file": MODEL_FILE, "energy_unit": "eV", "forces_unit": "eV/Ang", "position_unit": "Ang",
        "cutoff_A": settings.get("CUTOFF"), "mean_energy_per_atom_eV": mean_energy_per_atom,
        "database": str(Path(db_path).resolve()), "n_frames": count_frames(db_path),
        "data_source": json.loads(source.read_text(encoding="utf-8")) if source.is_file() else None,
        "elements": sorted({int(z) for d in train_data for z in d[P.Z]}),
        "settings": settings, "results": results,
        "versions": {"schnetpack": spk.__version__, "torch": torch.__version__},
    }  # fmt: skip
    (Path(model_dir) / INFO_FILE).write_text(json.dumps(info, indent=2, default=float), encoding="utf-8")


def newest_model(models_dir=MODELS_DIR) -> Path:
    """The most recent finished model of script2 (its folder has best_model and model_info.json)."""
    found = [p / MODEL_FILE for p in Path(models_dir).glob("*") if (p / INFO_FILE).is_file()]
    found = [p for p in found if p.is_file()]
    if not found:
        fail(
            f"no trained model in {models_dir}: run script2_train_schnet.py first, or set MODEL "
            "(--model PATH) to a SchNetPack model file"
        )
    return max(found, key=lambda p: (p.parent / INFO_FILE).stat().st_mtime)


def load_model(path, device: str = "cpu"):
    """A SchNetPack model file (or its folder) that predicts energy and forces, in eval mode.

    Model files are pickles: only load files you trust.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        fail(
            f"model file not found: {path} (train one with script2_train_schnet.py, or give --model "
            "PATH to a SchNetPack model file)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torch.load(str(path), map_location=device, weights_only=False)
    except Exception as exc:  # torch.load raises many kinds (UnpicklingError, RuntimeError, ...)
        fail(f"{path} is not a SchNetPack model file ({type(exc).__name__}: {first_line(exc)})")
    if isinstance(model, spk.task.AtomisticTask):
        model = model.model
    if isinstance(model, dict) and "state_dict" in model:
        fail(f"{path} is a PyTorch Lightning checkpoint, not a model file: use best_model instead")
    if not isinstance(model, spk.model.AtomisticModel):
        fail(f"{path} is not a SchNetPack model file (it holds a {type(model).__name__})")
    if getattr(model, "spk_version", None) != spk.__version__:  # SchNetPack updates older models
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = spk.utils.load_model(str(path), device=device)
    if not {"energy", "forces"} <= set(model.model_outputs or []):
        fail(f"the model in {path} predicts {model.model_outputs}, but MD needs 'energy' and 'forces'")
    return model.eval()


def model_energy_unit(model_path, default: str = "eV") -> str:
    """The energy unit of a model: from script2's model_info.json, or spktrain's config.yaml."""
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    try:
        if (folder / INFO_FILE).is_file():
            return json.loads((folder / INFO_FILE).read_text(encoding="utf-8")).get("energy_unit", default)
        if (folder / "config.yaml").is_file():
            import yaml

            config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
            return config["data"]["property_units"]["energy"]
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return default


def model_cutoff(model) -> float:
    """The cutoff radius (Å) of a SchNetPack representation (SchNet, PaiNN, SO3net, ...)."""
    cutoff_fn = getattr(model.representation, "cutoff_fn", None)
    if cutoff_fn is None or getattr(cutoff_fn, "cutoff", None) is None:
        fail("cannot find the cutoff radius of this model's representation: use --calculator spk")
    return float(torch.as_tensor(cutoff_fn.cutoff).reshape(-1)[0])


# ---------------------------------------------------------------------------------------------
# Molecular dynamics
# ---------------------------------------------------------------------------------------------
class MoleculeCalculator(Calculator):
    """ASE calculator: the trained SchNetPack model itself, its inputs built once for one molecule.

    SchNetPack's SpkCalculator rebuilds the model's inputs at every MD step (an ASE neighbour list
    and new tensors). For a molecule every pair of atoms can stay in the neighbour list: the
    model's cutoff function gives pairs beyond the cutoff zero weight (for ethanol and a 5 Å cutoff
    there are none). So the inputs are built once and only the positions change. The energy is
    the model's, the forces its -dE/dR by automatic differentiation (its Forces output module).
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model, atoms, energy_unit: str = "eV", dtype=torch.float64):
        super().__init__()
        model_cutoff(model)  # all pairs are exact only for a model with a cutoff function
        self.model = model.to(dtype).eval()
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
    """
    if start:
        file, _, index = str(start).partition("@")
        if not Path(file).is_file():
            fail(f"start geometry file not found: {file}")
        frames = read_frames(file, ":")
        k = int(index) if index.strip().lstrip("-").isdigit() else 0
        if not -len(frames) <= k < len(frames):
            fail(f"{file} has {len(frames)} frames (0 to {len(frames) - 1}); got @{index}")
        return frames[k], f"{file}, frame {k}"
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    rng = np.random.default_rng(seed)
    try:
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        test_idx = np.load(folder / "split.npz")["test_idx"]
        db = Path(info["database"])
        k = int(rng.choice(test_idx))
        atoms = connect(str(db), type="db", use_lock_file=False).get(id=k + 1).toatoms()
        return atoms, f"{db.name}, frame {k} (test set: not used in training)"
    except Exception:  # no model_info/split, or the database moved: fall back to the bundled data
        frames = read_frames(DATA_FILE)
        k = int(rng.integers(len(frames)))
        return frames[k], f"{DATA_FILE.name}, frame {k} (the model's own test frames were not found)"


class MDBlowUpError(Exception):
    """The simulation became unphysical (a bond broke, atoms collided, energy not conserved)."""


class StabilityMonitor:
    """Attached to the MD: raises MDBlowUpError when the simulation becomes unphysical.

    Bonds are the atom pairs closer than 1.2 x the sum of covalent radii at the start. The run
    stops when a bond gets longer than ``max_stretch`` x or shorter than ``max_compress`` x its
    start length, two atoms come closer than ``min_distance`` Å, the energy or positions stop being
    finite, or (``max_drift`` in eV/atom, for NVE) the total energy moves more than that.
    """

    def __init__(self, atoms, dyn, max_stretch=1.5, max_compress=0.6, max_drift=None, min_distance=0.5):
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


def shown(path) -> str:
    """A path for a command to copy: relative to the working folder if inside it, quoted if it has spaces."""
    path = Path(path)
    try:
        path = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    return f'"{path}"' if " " in str(path) else str(path)


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
