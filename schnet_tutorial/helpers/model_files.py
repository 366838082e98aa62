"""Model files: where script2 saves a model, what it records beside it, and loading one safely.

A model folder (script2 writes a new one per run under models/, never overwriting one) holds
  best_model       the model of the best validation loss: a standard SchNetPack model file (torch.save
                   of the NeuralNetworkPotential; absolute energies in eV, forces in eV/Å), the file
                   SchNetPack's SpkCalculator and its MD engine (spkmd) load;
  best.ckpt        Lightning's checkpoint of that epoch (to resume training);
  split.npz        the frame indices (train_idx, val_idx, test_idx) of the database;
  model_info.json  settings, units, the database and its fingerprint, its elements, test errors:
                   written last, when the model is done (a folder without it is removed).
Foreign models (SchNetPack's spktrain run folders) state their units and data in config.yaml.
Model files are pickles: only load files you trust.
"""

from schnet_tutorial.helpers import quiet  # noqa: F401  isort: skip (first: quiets SchNetPack's import)
import atexit
import json
import math
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import schnetpack as spk
import schnetpack.properties as P
import torch
from ase.data import chemical_symbols
from ase.db import connect
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from schnetpack.data.loader import _atoms_collate_fn
from schnetpack.units import convert_units

from common.runs import MODELS_DIR, new_run_dir
from common.settings import fail, first_line, quick_settings, warn
from schnet_tutorial.helpers.dataset import count_frames, database_fingerprint, read_stamp

MODEL_FILE, INFO_FILE = "best_model", "model_info.json"
# a test force MAE above this fraction of the zero-force guess's: learned nothing / far from usable
LEARNED_NOTHING, FAR_FROM_USABLE = 0.9, 0.5


def new_model_folder(name: str, models_dir=None, runs_dir=None) -> Path:
    """A new model folder models_dir/name (name_2, ... if taken, also in ``runs_dir``: the model and its
    TensorBoard run share one name). If the script ends before model_info.json is written (an
    error, Ctrl-C), the folder and its TensorBoard run are removed: nothing half-finished is left.
    With several GPUs or nodes only the first process makes it; the others get a temporary folder."""
    if rank_zero_only.rank != 0:
        folder = Path(tempfile.mkdtemp(prefix=f"rank{rank_zero_only.rank}_"))
        atexit.register(shutil.rmtree, folder, True)
        return folder
    base = Path(MODELS_DIR if models_dir is None else models_dir)
    k = 1
    while True:
        candidate = name if k == 1 else f"{name}_{k}"
        if runs_dir is None or not (Path(runs_dir) / candidate).exists():
            folder = new_run_dir(base, candidate)
            if folder.name == candidate:
                break
            folder.rmdir()  # taken in the meantime
        k += 1
    atexit.register(_remove_if_unfinished, folder, runs_dir)
    return folder


def _remove_if_unfinished(folder: Path, runs_dir=None) -> None:
    if not (folder / INFO_FILE).is_file():
        shutil.rmtree(folder, ignore_errors=True)
        if runs_dir is not None:
            shutil.rmtree(Path(runs_dir) / folder.name, ignore_errors=True)


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


def predict_energy_forces(model, inputs, batch_size: int = 250):
    """Energies (eV, per frame) and forces (eV/Å, per atom) of ``model`` on input dictionaries."""
    energies, forces = [], []
    for start in range(0, len(inputs), batch_size):
        batch = {k: v.clone() for k, v in _atoms_collate_fn(inputs[start : start + batch_size]).items()}
        out = model(batch)
        energies.append(out["energy"].detach().double().numpy())
        forces.append(out["forces"].detach().double().numpy())
    return np.concatenate(energies), np.concatenate(forces)


def save_model_info(
    model_dir,
    db_path,
    train_data,
    mean_energy_per_atom,
    settings,
    results,
    interrupted=False,
    learned=True,
    usable=True,
) -> None:
    """Write model_info.json: units, data (and its fingerprint), elements, settings and test errors
    (``interrupted``: the training was stopped by Ctrl-C; ``learned`` False: no better than guessing
    zero forces; ``usable`` False: far from usable). Written last, it marks the model as finished
    (newest_model only takes folders that have it, and not those that learned nothing). On a write
    error the model is kept elsewhere."""
    info = {
        "model_file": MODEL_FILE, "energy_unit": "eV", "forces_unit": "eV/Ang", "position_unit": "Ang",
        "cutoff_A": settings.get("CUTOFF"), "mean_energy_per_atom_eV": mean_energy_per_atom,
        "database": str(Path(db_path).resolve()), "n_frames": count_frames(db_path),
        "database_fingerprint": database_fingerprint(db_path), "learned": bool(learned),
        "usable": bool(usable), "quick": quick_settings(),
        "data_source": read_stamp(db_path),
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
    found = _finished_models(models_dir)
    if not found:
        fail(
            f"no trained model in {models_dir}: run script2_train_schnet.py first, or set MODEL_FILE "
            "(--model-file PATH) to a SchNetPack model file"
        )
    return max(found, key=_finished_time)


def _finished_models(models_dir) -> list[Path]:
    """The model files of finished trainings in ``models_dir`` that learned something."""
    found = [p / MODEL_FILE for p in Path(models_dir).glob("*") if (p / INFO_FILE).is_file()]
    return [p for p in found if p.is_file() and model_info(p.parent).get("learned", True)]


def _finished_time(model_file: Path) -> float:
    return (model_file.parent / INFO_FILE).stat().st_mtime


def load_model(path, device: str = "cpu", remedy: str = ""):
    """A SchNetPack model file (or its folder) that predicts energy and forces, in eval mode.
    ``remedy``: what to do if it is missing or broken (default: script2's advice, for script2's models).

    Model files are pickles: only load files you trust.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        fail(
            f"model file not found: {path} ("
            + (remedy or "train one with script2_train_schnet.py, or give --model-file PATH to a SchNetPack "
               "model file") + ")"
        )  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torch.load(str(path), map_location=device, weights_only=False)
    except Exception as exc:  # torch.load raises many kinds (UnpicklingError, RuntimeError, ...)
        others = [p for p in _finished_models(path.parent.parent) if p.parent != path.parent]
        older = f"; an older model: --model-file {shown(max(others, key=_finished_time))}" if others else ""
        fail(
            f"{path} is not a SchNetPack model file, or it is broken (e.g. cut off by a full disk; "
            f"{type(exc).__name__}: {first_line(exc)}): "
            + (remedy or f"train it again, or delete its folder{older}")
        )
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


def model_info(folder) -> dict:
    """A model folder's model_info.json, or {} if it has none (or it is unreadable)."""
    try:
        return json.loads((Path(folder) / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_elements(model_path):
    """(atomic numbers the model was trained on, its molecules' formulas or None if many or unknown,
    where that comes from), or (None, None, None) if unknown: script2's model_info.json, or the
    database named in spktrain's config.yaml (data.datapath, its first 1000 frames)."""
    folder = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    info = model_info(folder)
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
    - a model whose training was interrupted (Ctrl-C), or that learned nothing or is far from
      usable (warn_if_poor), gives a warning.
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
            "(MODEL_FILE, --model-file) or a start geometry of its elements (START, --start)"
        )
    elif molecules and formula not in molecules:
        fail(
            f"the model {label} was trained on {', '.join(molecules)} only ({source}); {what} {formula} is a "
            "molecule it never saw: use a model trained on it (MODEL_FILE, --model-file) or a start geometry "
            f"of {molecules[0]} (START, --start)"
        )
    info = model_info(folder)
    if info.get("quick"):
        warn(
            f"the model {label} was trained with the reduced settings (--quick): a quick look, not a result "
            "to judge the method by"
        )
    if info.get("interrupted"):
        done, planned = info.get("results", {}).get("epochs_done"), info.get("settings", {}).get("EPOCHS")
        warn(
            f"the training of the model {label} was interrupted (Ctrl-C) after {done} of {planned} epochs: "
            "it may be undertrained"
        )
    warn_if_poor(label, info)
    reference = atoms.info.pop("reference_forces_eV_A", None)
    if reference is not None and atoms.calc is not None:
        check_units(atoms.get_forces(), np.asarray(reference), energy_unit)


def quality(info: dict) -> str:
    """The verdict of a model_info.json: "learned nothing", "is far from usable", or "" (fine, unknown)."""
    results = info.get("results", {})
    mae, zero = results.get("force_mae_kcal_mol_A"), results.get("zero_force_mae_kcal_mol_A")
    if not (mae and zero):
        return ""
    if info.get("learned") is False or mae >= LEARNED_NOTHING * zero:
        return "learned nothing"
    return "is far from usable" if info.get("usable") is False or mae >= FAR_FROM_USABLE * zero else ""


def warn_if_poor(label: str, info: dict) -> None:
    """One warning line if model_info.json says (or its test errors show) that the model learned
    nothing or is far from usable: what it computes then means little."""
    what = quality(info)
    if not what:
        return
    results = info["results"]
    mae, zero = results["force_mae_kcal_mol_A"], results["zero_force_mae_kcal_mol_A"]
    what = "learned nothing (script2 refused it)" if what == "learned nothing" else what
    warn(
        f"the model {label} {what}: test force MAE {mae:.3g} kcal/mol/Å against {zero:.3g} for guessing zero "
        "forces; what it computes here means little: use a better trained model (script2, --model-file)"
    )


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


def shown(path) -> str:
    """A path for a command to copy: relative to the working folder if inside it, quoted if it has spaces."""
    path = Path(path)
    try:
        path = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    return f'"{path}"' if " " in str(path) else str(path)
