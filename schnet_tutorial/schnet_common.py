"""Shared pieces of the SchNet tutorial scripts (script1, script2, script3 and the benchmarks).

What is in here (a stable interface: other scripts import these names)
  paths and units     DATA_FILE, DB_PATH, MODELS_DIR, FIGURES_DIR, RUNS_DIR, EV_TO_KCAL_PER_MOL
  TutorialError       a problem the user can fix: the scripts report it as one line, non-zero exit
  read_frames         ASE Atoms of an extended XYZ file (.gz too), energies in eV, forces in eV/Å
  build_database      SchNetPack database (ASEAtomsData, SQLite) from such frames, written atomically
  source_stamp, database_is_current, write_stamp    reuse a database while its source is unchanged
  read_energies_forces    energies (eV) and forces (eV/Å) of every frame of a database, any units
  load_inputs         the model inputs of chosen frames, neighbour lists included, computed once
  split_indices       a seeded train / validation / test split
  build_model         SchNet or PaiNN energy + force model (SchNetPack NeuralNetworkPotential)
  count_parameters    trainable parameters of a model
  KeepBestModel       Lightning callback: best validation weights kept in memory, saved at the end
  LearningRateSchedule    Lightning callback: cosine or constant learning rate (epochs or time)
  new_model_dir, save_model_info, newest_model, load_model    the model-file convention below
  predict, error_metrics    energies/forces of a model on inputs, MAE and RMSE

The model-file convention (shared with script3_run_md.py)
  script2 writes every run to a new folder models/<model>_<date-time>[_k]/ (never overwriting one):
    best_model       the model of the best validation loss, a standard SchNetPack model file
                     (torch.save of the NeuralNetworkPotential, absolute energies in eV, forces in
                     eV/Å); loads with SpkCalculator(model=path, energy_unit="eV", ...) and
                     in schnetpack.md (the engine of spkmd)
    split.npz        train_idx, val_idx, test_idx: frame indices of the database (and of the
                     bundled data file it was built from)
    model_info.json  settings, units ("energy_unit": "eV"), data source, test errors
  best_model is written once, when training has finished, so the newest model is simply the most
  recently written models/*/best_model (newest_model(); script3 finds it the same way).
"""

from __future__ import annotations

import functools
import json
import math
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DATA_FILE = HERE / "data" / "ethanol_pbe.xyz.gz"   # bundled PBE/def2-SVP data, energy eV, forces eV/Å
DB_PATH = HERE / "data" / "ethanol.db"              # SchNetPack database built by script1
MODELS_DIR = HERE / "models"
FIGURES_DIR = REPO_ROOT / "figures"
RUNS_DIR = REPO_ROOT / "runs"
EV_TO_KCAL_PER_MOL = 23.060548  # 1 eV in kcal/mol
MODEL_FILE = "best_model"       # name of the model file in a run folder
MODEL_INFO_FILE = "model_info.json"

# SchNetPack's import uses torch.jit.script, which PyTorch now flags as deprecated: not our concern
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
sys.path.insert(0, str(REPO_ROOT))  # common/ (command-line overrides, plotting)


class TutorialError(Exception):
    """A problem the user can fix: reported as one line, non-zero exit."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------------------------------------
# Data: extended XYZ -> SchNetPack database
# ------------------------------------------------------------------------------------------------
def read_frames(path, index=":"):
    """ASE Atoms of an (optionally gzipped) extended XYZ file, each with energy (eV) and forces (eV/Å).

    Raises TutorialError (one line) for a missing file, one ASE cannot read, or frames without
    energy and forces.
    """
    path = Path(path)
    if not path.is_file():
        raise TutorialError(f"data file {path} not found; set DATA_FILE to an extended XYZ file "
                            "with energies (eV) and forces (eV/Å)")
    from md_tools import read_structures  # ase.io.read, but fast for .gz files

    try:
        frames = read_structures(path, index=index)
        frames = frames if isinstance(frames, list) else [frames]
        for atoms in frames:  # both must be there
            atoms.get_potential_energy(), atoms.get_forces()
    except Exception as exc:  # ASE raises many kinds for a corrupt file
        raise TutorialError(f"cannot read energies and forces from {path}: {first_line(exc)}") from None
    if not frames:
        raise TutorialError(f"no frames in {path}")
    return frames


def build_database(frames, db_path) -> None:
    """Write ``frames`` (Atoms with energy in eV and forces in eV/Å) to a new SchNetPack database.

    The database is written to a temporary file first and renamed at the end, so an interrupted
    build never leaves a half-written database behind.
    """
    import numpy as np
    from schnetpack.data import ASEAtomsData

    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(db_path.stem + ".tmp.db")
    tmp.unlink(missing_ok=True)
    props = [{"energy": np.array([a.get_potential_energy()]), "forces": a.get_forces()}
             for a in frames]
    data = ASEAtomsData.create(str(tmp), distance_unit="Ang",
                               property_unit_dict={"energy": "eV", "forces": "eV/Ang"})
    with data.conn:  # one SQLite transaction for all frames (one per frame is 5x slower)
        data.add_systems(props, [a.copy() for a in frames])  # copies: no calculator results twice
    del data
    tmp.replace(db_path)


def source_stamp(path) -> dict:
    """What identifies a data file's version: absolute path, size and modification time."""
    path = Path(path)
    st = path.stat()
    return {"source": str(path.resolve()), "size": st.st_size, "mtime": st.st_mtime}


def _stamp_file(db_path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".source.json")


def database_is_current(db_path, stamp: dict) -> bool:
    """True if ``db_path`` exists and was built from the source described by ``stamp``."""
    stamp_file = _stamp_file(db_path)
    if not (Path(db_path).is_file() and stamp_file.is_file()):
        return False
    try:
        return json.loads(stamp_file.read_text(encoding="utf-8")) == stamp
    except ValueError:
        return False


def write_stamp(db_path, stamp: dict) -> None:
    """Record the source of a database next to it (db_path + '.source.json')."""
    _stamp_file(db_path).write_text(json.dumps(stamp), encoding="utf-8")


def _open_db(db_path):
    """ASE connection and metadata of a SchNetPack database; TutorialError if it is not one."""
    from ase.db import connect

    db_path = Path(db_path)
    if not db_path.is_file():
        raise TutorialError(f"database {db_path} not found: run script1_prepare_data.py first")
    try:
        conn = connect(str(db_path), type="db", use_lock_file=False)
        meta = conn.metadata
        units = meta["_property_unit_dict"]
        n = conn.count()
    except Exception as exc:
        raise TutorialError(f"cannot read database {db_path} ({first_line(exc)}): rebuild it with "
                            "script1_prepare_data.py --force true") from None
    for key in ("energy", "forces"):
        if key not in units:
            raise TutorialError(f"database {db_path} has no '{key}'; rebuild it with script1")
    if n == 0:
        raise TutorialError(f"database {db_path} is empty; rebuild it with script1")
    return conn, meta, n


def _rows(conn, n_total, indices=None):
    """Rows of the frames ``indices`` (0-based, in that order), or of all frames."""
    if indices is None:
        return list(conn.select())
    indices = [int(i) for i in indices]
    if len(indices) > n_total // 10:   # reading everything at once is faster than many queries
        rows = list(conn.select())
        return [rows[i] for i in indices]
    return [conn.get(id=i + 1) for i in indices]


def read_energies_forces(db_path):
    """Energies (eV, one per frame), forces (eV/Å, all atoms stacked) and atoms in the first frame."""
    import numpy as np
    from schnetpack.units import convert_units

    conn, meta, n = _open_db(db_path)
    units = meta["_property_unit_dict"]
    rows = _rows(conn, n)
    e_scale = convert_units(units["energy"], "eV")
    f_scale = convert_units(units["forces"], "eV/Ang")
    energies = np.array([float(np.ravel(r.data["energy"])[0]) for r in rows]) * e_scale
    forces = np.concatenate([np.asarray(r.data["forces"]) for r in rows]) * f_scale
    return energies, forces, rows[0].natoms


def database_size(db_path) -> int:
    """Number of frames in a SchNetPack database (TutorialError if it cannot be read)."""
    return _open_db(db_path)[2]


# ------------------------------------------------------------------------------------------------
# Model inputs, computed once and kept in memory
# ------------------------------------------------------------------------------------------------
def load_inputs(db_path, indices, cutoff: float):
    """SchNetPack input dictionaries of the frames ``indices``, neighbour lists included.

    The same dictionaries as ``schnetpack.data.ASEAtomsData[i]`` with the transforms
    ASENeighborList(cutoff) and CastTo32 would give, in eV and Å, but made once for all frames, so that training does not redo them every epoch:
    reading all rows in one query is much faster than one query per frame, and for a molecule
    (no periodic cell) the neighbour list is just every pair of atoms closer than the cutoff.
    Periodic frames use SchNetPack's ASENeighborList.

    Returns (inputs, energies): the list of dictionaries (float32) and the frames' energies
    (eV, float64).
    """
    import numpy as np
    import torch
    import schnetpack.properties as P
    import schnetpack.transform as trn
    from schnetpack.units import convert_units

    conn, meta, n = _open_db(db_path)
    units = meta["_property_unit_dict"]
    e_scale = convert_units(units["energy"], "eV")
    f_scale = convert_units(units["forces"], "eV/Ang")
    r_scale = convert_units(meta.get("_distance_unit", "Ang"), "Ang")
    ase_nbl = trn.ASENeighborList(cutoff=cutoff)
    inputs, energies = [], []
    for idx, row in zip(indices, _rows(conn, n, indices)):
        energy = float(np.ravel(row.data["energy"])[0]) * e_scale
        z = torch.tensor(np.array(row.numbers), dtype=torch.long)
        pos = torch.as_tensor(row.positions * r_scale, dtype=torch.float64)
        pbc = torch.as_tensor(np.asarray(row.pbc, dtype=bool))
        d = {
            P.idx: torch.tensor([int(idx)]),
            "energy": torch.tensor([energy]),
            "forces": torch.as_tensor(np.asarray(row.data["forces"]) * f_scale),
            P.n_atoms: torch.tensor([len(z)]),
            P.Z: z,
            P.R: pos,
            P.cell: torch.as_tensor(np.asarray(row.cell)[None] * r_scale),
            P.pbc: pbc,
        }
        if bool(pbc.any()):
            d = ase_nbl(d)
        else:   # all pairs i != j within the cutoff, in SchNetPack's order (i major)
            dist = torch.cdist(pos, pos)
            i, j = torch.nonzero((dist < cutoff) & ~torch.eye(len(z), dtype=torch.bool),
                                 as_tuple=True)
            d[P.idx_i], d[P.idx_j] = i, j
            d[P.offsets] = torch.zeros(len(i), 3, dtype=torch.float64)
        inputs.append({k: v.float() if v.is_floating_point() else v for k, v in d.items()})
        energies.append(energy)
    return inputs, np.array(energies)


def split_indices(n_frames: int, n_train: int, n_val: int, n_test: int = 0, seed: int = 0):
    """Random train / validation / test frame indices (test: ``n_test`` of the rest, 0 = all)."""
    import numpy as np

    if n_train + n_val >= n_frames:
        raise TutorialError(f"N_TRAIN + N_VAL = {n_train + n_val} leaves no test frames of "
                            f"{n_frames}; lower them")
    perm = np.random.default_rng(seed).permutation(n_frames)
    rest = perm[n_train + n_val:]
    return perm[:n_train], perm[n_train:n_train + n_val], rest[:n_test] if n_test else rest


# ------------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------------
def build_model(kind: str = "schnet", n_features: int = 64, n_interactions: int = 3,
                cutoff: float = 5.0, n_rbf: int = 20, mean_energy_per_atom: float = 0.0,
                activation: str = "silu", n_filters: int | None = None):
    """A SchNetPack energy + force model: representation -> atomwise energies -> sum; F = -dE/dR.

    kind "schnet" (invariant, continuous filters) or "painn" (equivariant). n_filters: width of
    SchNet's continuous filters (None: n_features, as in the SchNet paper). activation "silu"
    (x * sigmoid(x)) or "ssp" (shifted softplus, ln(1 + e^x) - ln 2, the SchNet paper's choice):
    both smooth (slide 5); SiLU is much faster in PyTorch on the CPU. Energies in eV, positions in
    Å; ``mean_energy_per_atom`` (eV) is added back to the predicted energy (the training data have
    it removed), so the saved model predicts absolute energies.
    """
    import schnetpack as spk
    import schnetpack.transform as trn
    import torch
    import torch.nn.functional as F

    act = {"silu": F.silu, "ssp": spk.nn.activations.shifted_softplus}[activation]
    radial_basis = spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=cutoff)
    cls = {"schnet": spk.representation.SchNet, "painn": spk.representation.PaiNN}[kind]
    extra = {"n_filters": n_filters} if kind == "schnet" and n_filters else {}
    representation = cls(n_atom_basis=n_features, n_interactions=n_interactions, activation=act,
                         radial_basis=radial_basis, cutoff_fn=spk.nn.CosineCutoff(cutoff), **extra)
    # the mean as SchNetPack's own training stores it: one float64 number (a 0-dim tensor). float32
    # would round -468 eV/atom by ~3e-5 eV, and a 1-element vector breaks schnetpack.md (spkmd). It
    # is set after construction because AddOffsets turns a mean of exactly 0 into a float32 vector.
    offsets = trn.AddOffsets("energy", add_mean=True, property_mean=torch.tensor(1.0))
    offsets.mean = torch.tensor(float(mean_energy_per_atom), dtype=torch.float64)
    return spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=n_features, output_key="energy", activation=act),
                        spk.atomistic.Forces(energy_key="energy", force_key="forces")],
        postprocessors=[trn.CastTo64(), offsets],
    )


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def predict(model, inputs, batch_size: int = 250):
    """Energies (eV, per frame) and forces (eV/Å, per atom) of ``model`` on input dictionaries."""
    import numpy as np
    import torch
    from schnetpack.data.loader import _atoms_collate_fn

    energies, forces = [], []
    for start in range(0, len(inputs), batch_size):
        batch = _atoms_collate_fn(inputs[start:start + batch_size])
        batch = {k: v.clone() for k, v in batch.items()}  # the model writes into its input
        out = model(batch)
        energies.append(out["energy"].detach().double().numpy())
        forces.append(out["forces"].detach().double().numpy())
    return np.concatenate(energies), np.concatenate(forces)


def error_metrics(pred, ref) -> dict:
    """Mean absolute error and root-mean-square error (same unit as the inputs)."""
    import numpy as np

    diff = np.asarray(pred, dtype=float) - np.asarray(ref, dtype=float)
    return {"mae": float(np.abs(diff).mean()), "rmse": float(np.sqrt((diff ** 2).mean()))}


# ------------------------------------------------------------------------------------------------
# Training helpers (PyTorch Lightning callbacks)
# ------------------------------------------------------------------------------------------------
def __getattr__(name):
    """KeepBestModel and LearningRateSchedule are made on first use: importing PyTorch Lightning
    takes seconds, and script1 (or a script stopping on a bad setting) does not need it."""
    if name in ("KeepBestModel", "LearningRateSchedule"):
        return _lightning_callbacks()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _lightning_callbacks() -> dict:
    import pytorch_lightning as pl

    class KeepBestModel(pl.Callback):
        """Keep the weights of the lowest validation loss in memory; save that model when asked.

        The slide "Validation and test sets": the model we keep is the one that did best on data it
        was not trained on. Holding the weights in memory (a few hundred kB) instead of writing a
        checkpoint file after every improvement keeps training fast. After training,
        ``restore_and_save(task)`` loads those weights and writes ``model_path`` once, as a standard
        SchNetPack model file (``torch.save`` of the model, as ``spktrain`` does).
        """

        def __init__(self, model_path, monitor: str = "val_loss"):
            super().__init__()
            self.model_path, self.monitor = Path(model_path), monitor
            self.best_loss, self.best_epoch, self.best_state = math.inf, -1, None
            self.validated_step = -1   # the training step of the last validation

        def on_validation_end(self, trainer, pl_module):
            if trainer.sanity_checking:
                return
            self.validated_step = trainer.global_step
            loss = trainer.callback_metrics.get(self.monitor)
            if loss is not None:   # with several GPUs: the mean over all of them
                loss = trainer.strategy.reduce(loss.detach().clone(), reduce_op="mean")
            if loss is not None and float(loss) < self.best_loss:
                self.best_loss, self.best_epoch = float(loss), trainer.current_epoch
                self.best_state = {k: v.detach().clone()
                                   for k, v in pl_module.model.state_dict().items()}

        def restore_and_save(self, pl_module):
            """Load the best weights into the model and write the model file (rank 0 only)."""
            if self.best_state is not None:
                pl_module.model.load_state_dict(self.best_state)
            pl_module.save_model(str(self.model_path), do_postprocessing=True)

    class LearningRateSchedule(pl.Callback):
        """Learning rate per optimizer step: "cosine" decay or "constant"; an optional time budget.

        cosine: lr = lr0 * (f + (1 - f) * (1 + cos(pi * p)) / 2), from lr0 at the start (p = 0) to
        f * lr0 at the end (p = 1). The progress p is the fraction of the training done:
        steps / (epochs x steps per epoch), or, with a time budget, elapsed / budget when that is
        larger. So a run that would overrun its time budget still ends on a small learning rate, and
        training stops when the budget is spent.
        """

        def __init__(self, lr: float, kind: str = "cosine", final_fraction: float = 0.01,
                     time_budget_s: float = 0.0):
            super().__init__()
            self.lr, self.kind, self.final_fraction = lr, kind, final_fraction
            self.time_budget_s = time_budget_s
            self.t0 = None
            self.progress = 0.0
            self.frames = 0    # frames trained on (per process)

        def on_train_start(self, trainer, pl_module):
            self.t0 = time.perf_counter()

        def _total_steps(self, trainer):
            return max(1, trainer.max_epochs * trainer.num_training_batches)

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.frames += len(batch["_n_atoms"])
            p = trainer.global_step / self._total_steps(trainer)
            if self.time_budget_s > 0:
                p = max(p, (time.perf_counter() - self.t0) / self.time_budget_s)
                p = trainer.strategy.broadcast(p, src=0)   # the same on every GPU/node
                if p >= 1.0:
                    trainer.should_stop = True
            self.progress = p = min(p, 1.0)
            lr = self.lr
            if self.kind == "cosine":
                f = self.final_fraction
                lr = self.lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * p)))
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = lr
            if batch_idx == 0:
                pl_module.log("lr", lr, on_step=False, on_epoch=True)

    return {"KeepBestModel": KeepBestModel, "LearningRateSchedule": LearningRateSchedule}


# ------------------------------------------------------------------------------------------------
# Model files (see the convention in the module docstring)
# ------------------------------------------------------------------------------------------------
def new_model_dir(models_dir, name: str) -> Path:
    """A new folder models_dir/name (or name_2, name_3, ...): an earlier run is never overwritten."""
    from common.runs import new_run_dir

    return new_run_dir(Path(models_dir), name)


def save_model_info(model_dir, info: dict) -> Path:
    """Write model_info.json (settings, units, data, test errors) into a run folder."""
    path = Path(model_dir) / MODEL_INFO_FILE
    path.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    return path


def newest_model(models_dir=None) -> Path:
    """The most recently written models_dir/*/best_model; TutorialError when there is none."""
    models_dir = Path(models_dir) if models_dir else MODELS_DIR
    found = sorted(models_dir.glob(f"*/{MODEL_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise TutorialError(f"no trained model in {models_dir}: run script2_train_schnet.py first")
    return found[-1]


def load_model(path, device: str = "cpu"):
    """Load a SchNetPack model file (a pickle: only load files you trust)."""
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise TutorialError(f"model file {path} not found")
    try:
        return torch.load(str(path), map_location=device, weights_only=False)
    except Exception as exc:
        raise TutorialError(f"cannot load the model {path}: {first_line(exc)}") from None
