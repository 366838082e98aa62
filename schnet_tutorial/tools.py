"""What the SchNet scripts share: the data, the model files and a fast ASE calculator for MD.

``from schnet_tutorial import tools`` in script1 (data), script2 (training), script3 (MD) and the
benchmarks. Everything a student should read is in the scripts; this module holds the plumbing:

  data          read_frames, build_database, source_stamp, database_is_current, write_stamp,
                count_frames, read_energies_forces, load_inputs, molecule_inputs, split_indices
  training      new_folder, new_model_folder, fit (Ctrl-C, write errors), SettingsLogger
                (TensorBoard's HPARAMS table), count_parameters, predict
  model files   save_model_info, newest_model, load_model, model_energy_unit, model_cutoff,
                model_elements, check_model (elements, units, interrupted training)
  MD            MoleculeCalculator, make_calculator, start_geometry, StabilityMonitor, MDBlowUpError,
                new_md_files, copy_as, write_gif, shown

A model folder (script2 writes a new one per run under models/, never overwriting one) holds
  best_model       the model of the best validation loss: a standard SchNetPack model file (torch.save
                   of the NeuralNetworkPotential; absolute energies in eV, forces in eV/Å), the file
                   SchNetPack's SpkCalculator and its MD engine (spkmd) load;
  best.ckpt        Lightning's checkpoint of that epoch (to resume training);
  split.npz        the frame indices (train_idx, val_idx, test_idx) of the database;
  model_info.json  settings, units, the database, its elements, test errors: written last, when the
                   model is done (a folder without it is removed when the script ends).
Problems a user can fix stop the script with one line ``error: ...`` (common.settings.fail); doubts
that do not stop it are one line ``warning: ...`` on stderr (warn).
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
import signal
import sys
import tempfile
from pathlib import Path

import numpy as np
import schnetpack as spk
import schnetpack.properties as P
import schnetpack.transform as trn
import torch
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.data import chemical_symbols, covalent_radii
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


def warn(message: str) -> None:
    """One line ``warning: message`` on stderr: the script goes on."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


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
    try:
        with data.conn:  # one SQLite transaction for all frames (one per frame is 5x slower)
            data.add_systems(props, [a.copy() for a in frames])
        del data
        tmp.replace(db_path)
    except Exception as exc:  # a full disk (SQLite: "database or disk is full"), a folder made read-only
        tmp.unlink(missing_ok=True)
        fail(f"cannot write {db_path} ({first_line(exc)}): free some disk space or set DB_PATH elsewhere")


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


def _remove_if_unfinished(folder: Path) -> None:
    if folder.is_dir() and not (folder / INFO_FILE).is_file():
        shutil.rmtree(folder, ignore_errors=True)


def new_model_folder(name: str, models_dir=None) -> Path:
    """A new model folder under models/ (new_folder). If the script ends before model_info.json is
    written (an error, Ctrl-C), the folder is removed: no half-finished model is left behind."""
    folder = new_folder(MODELS_DIR if models_dir is None else models_dir, name)
    atexit.register(_remove_if_unfinished, folder)
    return folder


def keep_elsewhere(model_dir, exc: OSError, model=None) -> None:
    """After a write error in ``model_dir``: copy what it holds (and ``model``) to a temporary
    folder and stop with one line that says where."""
    spare = Path(tempfile.mkdtemp(prefix=f"{Path(model_dir).name}_"))
    for path in Path(model_dir).glob("*"):
        try:
            shutil.copy2(path, spare / path.name)
        except OSError:
            pass
    if model is not None and not (spare / MODEL_FILE).is_file():
        try:
            torch.save(model, spare / MODEL_FILE)
        except OSError:
            pass
    (spare / INFO_FILE).unlink(missing_ok=True)
    kept = sorted(p.name for p in spare.iterdir())
    where = f"{', '.join(kept)} kept in {spare}" if kept else f"nothing could be kept (also not in {spare})"
    fail(
        f"cannot write into {model_dir} ({exc.strerror or first_line(exc)}): {where}; free some disk "
        "space or make the folder writable"
    )


def fit(trainer, task, train_loader, val_loader, model_dir) -> bool:
    """``trainer.fit``; True if Ctrl-C stopped it (the checkpoint so far is kept), False if it ran
    to the end. A write error (a full disk) keeps the model in a temporary folder and says where."""
    try:
        trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader)
    except SystemExit as exc:  # Lightning turns Ctrl-C into sys.exit(1) after a graceful stop
        if not isinstance(exc.__context__, KeyboardInterrupt):
            raise
        signal.signal(signal.SIGINT, signal.default_int_handler)  # (Lightning switched Ctrl-C off)
        return True
    except OSError as exc:
        keep_elsewhere(model_dir, exc, task.model)
    return False


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
def save_model_info(
    model_dir, db_path, train_data, mean_energy_per_atom, settings, results, interrupted=False
) -> None:
    """Write model_info.json: units, data, elements, settings and test errors (``interrupted``: the
    training was stopped by Ctrl-C). Written last, it marks the model as finished (newest_model only
    takes folders that have it). On a write error the model is kept elsewhere (keep_elsewhere)."""
    source = Path(db_path).with_name(Path(db_path).name + ".source.json")
    info = {
        "model_file": MODEL_FILE, "energy_unit": "eV", "forces_unit": "eV/Ang", "position_unit": "Ang",
        "cutoff_A": settings.get("CUTOFF"), "mean_energy_per_atom_eV": mean_energy_per_atom,
        "database": str(Path(db_path).resolve()), "n_frames": count_frames(db_path),
        "data_source": json.loads(source.read_text(encoding="utf-8")) if source.is_file() else None,
        "elements": sorted({int(z) for d in train_data for z in d[P.Z]}),
        "molecules": _formulas(d[P.Z].tolist() for d in train_data),
        "interrupted": bool(interrupted), "settings": settings, "results": results,
        "versions": {"schnetpack": spk.__version__, "torch": torch.__version__},
    }  # fmt: skip
    target = Path(model_dir) / INFO_FILE
    tmp = target.with_name(INFO_FILE + ".tmp")
    try:
        tmp.write_text(json.dumps(info, indent=2, default=float), encoding="utf-8")
        tmp.replace(target)  # all or nothing: a half-written file would mark a model as finished
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        keep_elsewhere(model_dir, exc)


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


def _formulas(numbers_of_frames, most: int = 20):
    """The chemical formulas (Hill) of the frames, or None if there are more than ``most``."""
    from ase.formula import Formula

    found = set()
    for numbers in numbers_of_frames:
        found.add(Formula.from_list([chemical_symbols[int(z)] for z in numbers]).format("hill"))
        if len(found) > most:
            return None
    return sorted(found)


def _model_info(folder) -> dict:
    try:
        return json.loads((Path(folder) / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_elements(model_path):
    """(atomic numbers the model was trained on, its molecules' formulas or None if many or unknown,
    where that comes from), or (None, None, None) if unknown: script2's model_info.json, or the
    database named in spktrain's config.yaml (data.datapath, its first 1000 frames)."""
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    info = _model_info(folder)
    if info.get("elements"):
        return {int(z) for z in info["elements"]}, info.get("molecules"), INFO_FILE
    try:
        import yaml

        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        db = Path(config["data"]["datapath"])
        conn = connect(str(db if db.is_absolute() else folder / db), type="db", use_lock_file=False)
        rows = [row.numbers for _, row in zip(range(1000), conn.select())]
        found = {int(z) for numbers in rows for z in numbers}
        return (found, _formulas(rows), f"its data {db.name}") if found else (None, None, None)
    except Exception:  # no config.yaml, no datapath in it, or the database is not there
        return None, None, None


def check_model(model_path, model, atoms, energy_unit: str = "eV", what: str = "the start geometry"):
    """Stop with one line if the model cannot be right for ``atoms``; warn on doubts.

    - elements: every element of ``atoms`` must be one the model was trained on (model_elements)
      and have a row in its embedding, and the molecule one of its training molecules where those
      are few and known; unknown elements (a foreign model) give a warning;
    - units: if ``atoms`` carries reference forces (start_geometry: from the data file, eV/Å) and a
      calculator, the model's forces must not differ from them by a unit conversion factor;
    - a model whose training was interrupted (Ctrl-C) gives a warning.
    """
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    label, formula = shown(folder), atoms.get_chemical_formula()
    numbers = {int(z) for z in atoms.numbers}
    embedding = getattr(getattr(model, "representation", None), "embedding", None)
    size = getattr(embedding, "num_embeddings", None)
    if size is not None and max(numbers) >= size:
        fail(
            f"the model {label} knows elements up to Z = {size - 1} only; {what} {formula} has "
            f"Z = {max(numbers)}"
        )
    elements, molecules, source = model_elements(model_path)
    symbols = lambda zs: ", ".join(chemical_symbols[z] for z in sorted(zs))  # noqa: E731
    if elements is None:
        warn(
            f"the elements the model {label} was trained on are unknown (no {INFO_FILE}, no config.yaml "
            f"with its data): make sure it was trained on {formula}"
        )
    elif numbers - elements:
        fail(
            f"the model {label} was trained on {symbols(elements)} only ({source}); {what} {formula} has "
            f"{symbols(numbers - elements)}, which it never saw: use a model trained on this molecule "
            "(MODEL, --model) or a start geometry of its elements (START, --start)"
        )
    elif molecules and formula not in molecules:
        fail(
            f"the model {label} was trained on {', '.join(molecules)} only ({source}); {what} {formula} is a "
            "molecule it never saw: use a model trained on it (MODEL, --model) or a start geometry of "
            f"{molecules[0]} (START, --start)"
        )
    info = _model_info(folder)
    if info.get("interrupted"):
        done, planned = info.get("results", {}).get("epochs_done"), info.get("settings", {}).get("EPOCHS")
        warn(
            f"the training of the model {label} was interrupted (Ctrl-C) after {done} of {planned} epochs: "
            "it may be undertrained"
        )
    reference = atoms.info.pop("reference_forces_eV_A", None)
    if reference is not None and atoms.calc is not None:
        check_units(atoms.get_forces(), np.asarray(reference), energy_unit)


def check_units(forces, reference, energy_unit: str) -> None:
    """Stop with one line if the model's ``forces`` (eV/Å, converted from ``energy_unit``) are the
    data's ``reference`` forces (eV/Å) times the factor between two energy units (23.06 for kcal/mol
    and eV, 96.49 for kJ/mol): the model's energy unit is then not ``energy_unit``."""
    n_model, n_ref = np.linalg.norm(forces), np.linalg.norm(reference)
    if not (np.isfinite(n_model) and n_model > 0 and n_ref > 1e-6):
        return
    alike = float(np.sum(forces * reference)) / (n_model * n_ref)  # 1: the same direction
    ratio = n_model / n_ref
    if alike < 0.5 or abs(math.log(ratio)) < math.log(3):
        return
    to_ev = float(convert_units(energy_unit, "eV"))
    for unit in ("eV", "kcal/mol", "kJ/mol", "Hartree"):
        factor = to_ev / float(convert_units(unit, "eV"))
        if unit != energy_unit and abs(math.log(ratio / factor)) < math.log(1.4):
            fail(
                f"unit mismatch: the model's forces on the start frame are {ratio:.3g} x the data's "
                f"reference forces, the factor between {unit} and {energy_unit} ({factor:.4g}): the model "
                f'predicts {unit}, not {energy_unit}; set ENERGY_UNIT = "{unit}" (--energy-unit {unit})'
            )


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
    The frame's reference forces (eV/Å), where the data has them, go into
    ``atoms.info["reference_forces_eV_A"]`` for check_model's unit check (which removes them).
    """
    if start:
        file, _, index = str(start).partition("@")
        if not Path(file).is_file():
            fail(f"start geometry file not found: {file}")
        frames = read_frames(file, ":")
        k = int(index) if index.strip().lstrip("-").isdigit() else 0
        if not -len(frames) <= k < len(frames):
            fail(f"{file} has {len(frames)} frames (0 to {len(frames) - 1}); got @{index}")
        return _with_reference(frames[k]), f"{file}, frame {k}"
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    rng = np.random.default_rng(seed)
    try:
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        test_idx = np.load(folder / "split.npz")["test_idx"]
        db = Path(info["database"])
        k = int(rng.choice(test_idx))
        conn = connect(str(db), type="db", use_lock_file=False)
        row = conn.get(id=k + 1)
        atoms = row.toatoms()
        try:
            to_ev = convert_units(conn.metadata["_property_unit_dict"]["forces"], "eV/Ang")
            atoms.info["reference_forces_eV_A"] = np.asarray(row.data["forces"], dtype=float) * to_ev
        except Exception:  # a database without forces: no unit check
            pass
        return atoms, f"{db.name}, frame {k} (test set: not used in training)"
    except Exception:  # no model_info/split, or the database moved: fall back to the bundled data
        frames = read_frames(DATA_FILE)
        k = int(rng.integers(len(frames)))
        return (
            _with_reference(frames[k]),
            f"{DATA_FILE.name}, frame {k} (the model's own test frames were not found)",
        )


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
