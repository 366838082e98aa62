"""SO3LR, a pretrained foundation model (the optional package so3krates-torch), for script8.

require            the package, or one line with the install command (the other lessons never import it)
load               the bundled SO3LR (or a fine-tuned one): one-line errors for a missing, broken or
                   foreign file, or a model that never saw the molecule's elements
to_atoms, predict  our frames as ASE Atoms with their PBE labels; the model's energies and forces (eV, eV/Å)
calculator         the library's ASE calculator of a model (MD, geometry optimisation, Hessian)
refit_shifts       SO3LR's per-element energy shifts fitted to our energies (it learned no absolute energies)
finetune           fine-tunings with the library's own training entry point and YAML config
                   (``torchkrates-train --config config.yaml``), side by side, each cached in its folder
save               a fine-tuned model into a new model folder (never overwriting one)

SO3LR predicts in eV and eV/Å, as our data are. The model files are pickles: only load files you trust.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from common.errors import OPTIONAL_MISSING
from common.settings import fail, first_line
from schnet_tutorial.helpers import dataset, model_files

INSTALL = "pip install -r requirements-foundation.txt"
MODEL_NAME = "so3lr.model"  # a fine-tuned model's file in its model folder
RESULT_FILE = "result.json"
KCAL = dataset.EV_TO_KCAL_PER_MOL
R_MAX_LR, LR_DAMPING = 12.0, 2.0  # Å: SO3LR's long-range cutoff (charges, dispersion) and damping
# FINETUNE names -> the library's fine-tuning settings (its TRAINING section): which weights learn. By
# its defaults the element embedding and the physics terms (repulsion, charges, dispersion) stay.
CHOICES = {
    "naive": {"finetune_choice": "naive"},  # every other weight of the network
    "all": {"finetune_choice": "naive", "freeze_embedding": False},  # the element embedding too
    "last_layer": {"finetune_choice": "last_layer+mlp"},  # the last transformer layer and the MLPs
    "lora": {"finetune_choice": "lora", "lora_rank": 4, "lora_alpha": 8.0},  # low-rank updates
}


def require():
    """The so3krates_torch package, or stop with one line that says how to install it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import so3krates_torch  # noqa: F401
            from so3krates_torch.tools import eval as _eval  # noqa: F401  (its evaluation)
    except ImportError as exc:
        fail(
            f"this lesson needs the optional package so3krates-torch ({first_line(exc)}): {INSTALL} "
            "(in the project folder, in this environment)",
            code=OPTIONAL_MISSING,  # the tour skips the lesson and goes on
        )
    return so3krates_torch


def bundled_file() -> Path:
    """The SO3LR weights that ship inside the package."""
    return Path(require().__file__).parent / "pretrained" / "so3lr" / "so3lr.model"


def load(path=""):
    """A SO3LR model (eval mode, float32): ``path`` "" = the bundled one; a fine-tuned model file or its
    folder. One line, and nothing changed, if the file is missing, broken or not a SO3LR model."""
    import torch
    from so3krates_torch.modules.models import SO3LR

    bundled = not path
    path = Path(path) if path else bundled_file()
    path = path / MODEL_NAME if path.is_dir() else path
    reinstall = "reinstall the package: pip install --force-reinstall --no-deps so3krates-torch==0.2.1"
    if not path.is_file():
        what = (
            reinstall if bundled else 'set MODEL_FILE to a model script8 saved, or to "" (the bundled SO3LR)'
        )
        fail(f"SO3LR weight file not found: {path}: {what}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch.load raises many kinds for a cut-off or foreign file
        fail(
            f"{path} is broken or not a model file ({type(exc).__name__}: {first_line(exc)}): {reinstall}, "
            "or for a fine-tuned model run script8 again"
        )
    if not isinstance(model, SO3LR):
        fail(f"{path} holds a {type(model).__name__}, not a SO3LR model")
    if getattr(model, "r_max_lr", None) is None:  # the bundled file: SO3LRCalculator's long-range settings
        model.r_max_lr, model.dispersion_energy_cutoff_lr_damping = R_MAX_LR, LR_DAMPING
    return model.float().eval()


def check_elements(path, numbers) -> None:
    """Stop with one line if the fine-tuned model at ``path`` never saw an element of ``numbers``."""
    if not path:
        return  # the bundled SO3LR: trained on many organic molecules (its paper lists its elements)
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    try:
        known = set(json.loads((folder / model_files.INFO_FILE).read_text(encoding="utf-8"))["elements"])
    except (OSError, ValueError, KeyError):
        return
    missing = sorted({int(z) for z in numbers} - known)
    if missing:
        fail(
            f"the model {folder.name} was fine-tuned on elements Z = {sorted(known)} only; the data have "
            f'Z = {missing}: use the bundled SO3LR (MODEL_FILE = "") or a model fine-tuned on them'
        )


def calculator(model):
    """The library's ASE calculator of ``model`` (eV, eV/Å), as script3's MD and script7's checks use one."""
    from so3krates_torch.calculator.so3 import TorchkratesCalculator

    return TorchkratesCalculator(
        models=model,
        r_max_lr=model.r_max_lr,
        default_dtype="float32",
        dispersion_energy_cutoff_lr_damping=model.dispersion_energy_cutoff_lr_damping,
    )


def to_atoms(db_path, indices) -> list:
    """The frames ``indices`` of the database as ASE Atoms, PBE energy (eV) in info["REF_energy"] and
    forces (eV/Å) in arrays["REF_forces"] (the library's default keys)."""
    from ase import Atoms

    (inputs,) = dataset.load_inputs(db_path, 1.0, indices)
    frames = []
    for k, d in zip(indices, inputs):
        atoms = Atoms(numbers=d["_atomic_numbers"].numpy(), positions=d["_positions"].numpy())
        atoms.info["frame"] = int(k)  # its index in the database
        atoms.info["REF_energy"] = float(d["energy"].item())
        atoms.arrays["REF_forces"] = d["forces"].numpy()
        frames.append(atoms)
    return frames


def predict(model, frames, batch_size: int = 50):
    """The model's energies (eV, one per frame) and forces (eV/Å, all atoms stacked), in batches."""
    import logging

    from so3krates_torch.tools.eval import evaluate_model

    logging.getLogger("so3krates_torch").setLevel(logging.WARNING)
    out = evaluate_model(frames, model, batch_size, "cpu", "so3lr", dtype="float32")
    return np.asarray(out["energies"], dtype=float), np.concatenate(out["forces"]).astype(float)


def reference(frames):
    """The PBE energies (eV) and forces (eV/Å, stacked) of ``frames``."""
    return np.array([a.info["REF_energy"] for a in frames]), np.concatenate(
        [a.arrays["REF_forces"] for a in frames]
    )


def errors(energies, forces, frames) -> dict:
    """Test errors against the PBE labels of ``frames`` (dataset.error_table: kcal/mol, kcal/mol/Å)."""
    return dataset.error_table(energies, forces, *reference(frames))


def refit_shifts(model, frames, energies) -> dict:
    """Fit SO3LR's per-element energy shifts (eV per atom) so that its energies match ours on ``frames``
    (least squares on the counts of each element); the model is changed in place. With one molecule
    the counts are the same in every frame, so only their sum is fixed (NumPy picks the smallest
    shifts). Returns {Z: the change in eV}."""
    import torch

    e_ref, _ = reference(frames)
    elements = sorted({int(z) for a in frames for z in a.numbers})
    counts = np.array([[np.sum(a.numbers == z) for z in elements] for a in frames], dtype=float)
    change, *_ = np.linalg.lstsq(counts, e_ref - energies, rcond=None)
    block = model.atomic_energy_output_block
    shifts = block.energy_shifts.detach().clone().double()
    for z, c in zip(elements, change):
        shifts[z - 1] += c  # shifts[0] is hydrogen's
    block.set_defined_energy_shifts(shifts.to(torch.float32))
    block.energy_shifts.requires_grad_(False)
    return dict(zip(elements, change.tolist()))


def config(choice: str, steps: int, n_train: int, batch_size: int, learning_rate: float, seed: int) -> dict:
    """The library's training configuration (its YAML sections) for one fine-tuning of start.model on
    train.xyz, validated on valid.xyz: ``steps`` optimizer steps, a cosine learning rate."""
    epochs = max(1, round(steps / -(-n_train // batch_size)))
    return {
        "GENERAL": {
            "name_exp": "finetuned",
            "checkpoints_dir": "checkpoints",
            "model_dir": "model",
            "log_dir": "logs",
            "default_dtype": "float32",
            "seed": seed,
        },
        "ARCHITECTURE": {
            "degrees": [1, 2, 3, 4],
            "r_max": 4.5,
            "r_max_lr": R_MAX_LR,
            "dispersion_energy_cutoff_lr_damping": LR_DAMPING,
        },
        "TRAINING": {
            "path_to_train_data": "train.xyz",
            "path_to_val_data": "valid.xyz",
            "pretrained_model": "start.model",
            "batch_size": batch_size,
            "valid_batch_size": 50,
            "lr": learning_rate,
            "num_epochs": epochs,
            "scheduler": "cosine_annealing",
            "scheduler_args": {"T_max": epochs},
            "energy_weight": 1.0,
            "forces_weight": 100.0,
            "eval_interval": max(1, epochs // 5),
            "patience": 10**6,
            **CHOICES[choice],
        },
        "MISC": {"device": "cpu", "restart_latest": False, "log_level": "INFO", "error_table": "TotalMAE"},
    }


def folder_of(base, cfg: dict, train_idx, start_model: Path) -> Path:
    """base/<choice>_n<frames>_<hash of the configuration, the frames and the start model>."""
    key = json.dumps([cfg, [int(i) for i in train_idx], hashlib.sha1(start_model.read_bytes()).hexdigest()])
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    choice = cfg["TRAINING"]["finetune_choice"].replace("+", "_")
    return Path(base) / f"{choice}_n{len(train_idx)}_{digest}"


def _train(folder: Path, cfg: dict, train, valid, start_model: Path) -> None:
    """One fine-tuning in its own process (one thread): torchkrates-train's main with our config."""
    import yaml
    from ase.io import write

    if folder.exists():
        shutil.rmtree(folder)  # an unfinished one (or FORCE)
    folder.mkdir(parents=True)
    write(folder / "train.xyz", train)
    write(folder / "valid.xyz", valid)
    shutil.copy(start_model, folder / "start.model")
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    command = [sys.executable, "-m", "so3krates_torch.cli.run_train", "--config", "config.yaml"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(folder / "log.txt", "w", encoding="utf-8") as log:
        proc = subprocess.run(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0 or not (folder / "finetuned.model").is_file():
        lines = (folder / "log.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
        if any("non-finite" in line for line in lines):  # the library stops when its loss becomes NaN
            fail(f"the fine-tuning {folder.name} diverged (its loss became NaN): lower LEARNING_RATE; the "
                 f"fine-tunings finished before it are kept; log: {folder / 'log.txt'}", code=1)  # fmt: skip
        last = (lines or ["no output"])[-1][:200]
        fail(f"the fine-tuning in {folder} failed: {last}; log: {folder / 'log.txt'}")


def finetune(jobs: dict, base, test, workers: int = 2, force: bool = False, say=None):
    """Run fine-tunings ``jobs`` ({name: (config, train frames, validation frames, start model file)}),
    ``workers`` at a
    time; test each on ``test`` and keep its result in its folder (a rerun reuses it; ``force``
    retrains). Returns {name: result}, each with its "folder". A fine-tuning that diverged (forces
    not finite, or no better than zero forces) stops with one line; finished ones are kept."""
    places = {
        name: folder_of(base, cfg, [a.info["frame"] for a in train], start)
        for name, (cfg, train, _, start) in jobs.items()
    }
    results = {}
    for name, folder in places.items():
        try:
            if not force:
                results[name] = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
                if say:
                    say(name, results[name], True)
        except (OSError, ValueError):
            pass
    todo = [name for name in jobs if name not in results]

    def run(name):
        _train(places[name], *jobs[name])
        return name

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for name in pool.map(run, todo):  # the test, here: one after the other, as they finish
            folder = places[name]
            model = load(folder / "finetuned.model")
            result = errors(*predict(model, test), test)
            log = (folder / "log.txt").read_text(encoding="utf-8", errors="replace")
            seconds = [float(s.split("s/epoch")[0].split()[-1]) for s in log.split("Throughput: ")[1:]]
            cfg = jobs[name][0]
            result.update(
                train_s=float(np.sum(seconds) * cfg["TRAINING"]["num_epochs"] / max(1, len(seconds))),
                n_train=len(jobs[name][1]),
                epochs=cfg["TRAINING"]["num_epochs"],
            )
            if not np.isfinite(result["force_mae_kcal_mol_A"]) or (
                result["force_mae_kcal_mol_A"] > 0.9 * result["zero_force_mae_kcal_mol_A"]
            ):
                fail(
                    f"the fine-tuning {name} diverged (test force MAE {result['force_mae_kcal_mol_A']:.3g} "
                    "kcal/mol/Å): lower LEARNING_RATE; the fine-tunings before it are kept",
                    code=1,
                )
            (folder / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")
            results[name] = result
            if say:
                say(name, result, False)
    return {name: {**results[name], "folder": str(places[name])} for name in jobs}


def save(result: dict, choice: str, train) -> Path:
    """Copy a fine-tuned model (its ``result`` from finetune) into a new folder under MODELS_DIR
    (so3lr_finetuned_<choice>_n<N>, then _2, ... : never overwriting) with its model_info.json: what
    it was trained on and its test errors. SchNetPack's scripts do not take it as their newest model."""
    from common.runs import MODELS_DIR, new_run_dir

    source_folder = result["folder"]
    info = {"model": "SO3LR fine-tuned (so3krates-torch)", "finetune": choice, "n_train": len(train),
            "train_idx": [a.info["frame"] for a in train], "energy_unit": "eV",
            "elements": sorted({int(z) for a in train for z in a.numbers}),
            "results": {k: v for k, v in result.items() if k != "folder"}}  # fmt: skip
    folder = new_run_dir(MODELS_DIR, f"so3lr_finetuned_{choice}_n{len(train)}")
    try:
        shutil.copy(Path(source_folder) / "finetuned.model", folder / MODEL_NAME)
        (folder / model_files.INFO_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
    except (OSError, TypeError) as exc:  # a full disk: no half-saved model
        shutil.rmtree(folder, ignore_errors=True)
        fail(f"cannot save the fine-tuned model into {folder} ({first_line(exc)}): free some disk space")
    return folder / MODEL_NAME
