"""Many SchNetPack trainings, each described by a dictionary of settings, cached and side by side.

script2 writes one training out step by step. script4 (learning curves) and script5 (a committee,
active learning) need dozens of them, so here the same pipeline (representation -> Atomwise and
Forces, AtomisticTask, Lightning's Trainer, ModelCheckpoint) is one function of a settings
dictionary, ``train``, and ``run_all`` runs a list of them:

- each training runs in its own Python process on one CPU core. A 9-atom molecule cannot keep two
  cores busy in one training (2 threads: 5-10 % faster), but two trainings side by side run at
  almost twice the pace (benchmarks/README.md). Processes, not threads or multiprocessing: this
  works the same from a terminal, Spyder, VS Code and Jupyter, on Linux, macOS and Windows;
- each result is a model folder (best_model, model_info.json as script2 writes it, result.json)
  named after its settings, under the calling script's results folder. A rerun reuses every
  finished folder; ``force=True`` recomputes. An interrupted training leaves no result.json and
  is redone next time.

The learning rate falls along a cosine from ``learning_rate`` to ``lr_final`` x ``learning_rate``
over ``steps`` optimizer steps, or over ``time_s`` seconds when that is > 0 (then the result
depends on the machine).
"""

from schnet_tutorial import tools  # isort: skip (first: it quiets a warning of SchNetPack's import)
import hashlib
import json
import math
import queue
import shutil
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import schnetpack as spk
import schnetpack.transform as trn
import torch
import torchmetrics

from common.runs import DATABASE
from common.settings import fail

# The minute's settings (script2's defaults); a training's dictionary changes some of them.
DEFAULTS = {
    "model": "schnet",  # "schnet" or "painn"
    "n_features": 64,
    "n_interactions": 3,
    "n_filters": 32,  # SchNet only (0 = n_features)
    "n_rbf": 20,
    "cutoff": 5.0,  # Å
    "activation": "silu",
    "learning_rate": 1e-2,  # AdamW
    "weight_decay": 0.01,  # AdamW's decoupled weight decay (PyTorch's default)
    "lr_final": 0.01,  # the cosine ends at lr_final x learning_rate
    "warmup_steps": 0,  # the learning rate rises linearly from 0 over these first steps
    "batch_size": 8,
    "energy_weight": 0.01,  # x MSE of the energies (eV²)
    "force_weight": 0.99,  # x MSE of the force components (eV²/Å²)
    "loss": "mse",  # "mse": mean squared errors; "l1": mean absolute errors (the test's measure)
    "steps": 3750,  # optimizer steps (script2's 30 epochs of 1,000 frames in batches of 8)
    "time_s": 0.0,  # > 0: train for this many seconds instead of `steps`
    "val_checks": 20,  # validations during the training (the best one is kept)
    "threads": 1,  # CPU threads of this training
    "seed": 0,  # initial weights and batch order
    "database": "",  # the database script1 made
    "train_idx": [],  # frame indices (of the database) for training, validation and test
    "val_idx": [],
    "test_idx": [],
}
RESULT_FILE = "result.json"
DONE = "@@trained "  # a worker's reply: this folder is done
SETTINGS_FILE = "settings.json"
KCAL = tools.EV_TO_KCAL_PER_MOL


# ---------------------------------------------------------------------------------------------
# One training (in a worker process)
# ---------------------------------------------------------------------------------------------
def build_model(s: dict, mean_per_atom: torch.Tensor):
    """The NeuralNetworkPotential of script2, from a settings dictionary."""
    activation = {"silu": torch.nn.functional.silu, "ssp": spk.nn.shifted_softplus}[s["activation"]]
    Representation = {"schnet": spk.representation.SchNet, "painn": spk.representation.PaiNN}[s["model"]]
    filters = {"n_filters": s["n_filters"] or s["n_features"]} if s["model"] == "schnet" else {}
    representation = Representation(
        n_atom_basis=s["n_features"],
        n_interactions=s["n_interactions"],
        radial_basis=spk.nn.GaussianRBF(n_rbf=s["n_rbf"], cutoff=s["cutoff"]),
        cutoff_fn=spk.nn.CosineCutoff(s["cutoff"]),
        activation=activation,
        **filters,
    )
    return spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=s["n_features"], output_key="energy", activation=activation),
            spk.atomistic.Forces(energy_key="energy", force_key="forces"),
        ],
        postprocessors=[trn.CastTo64(), trn.AddOffsets("energy", add_mean=True, property_mean=mean_per_atom)],
    )


class CosineSchedule(pl.Callback):
    """The learning rate along a cosine from ``lr`` to ``final`` x ``lr``, over ``steps`` optimizer
    steps or, when ``seconds`` > 0, over that much training time (then the training stops at the
    next validation, so the last weights are validated); a linear rise over ``warmup`` steps first."""

    def __init__(self, lr: float, final: float, steps: int, seconds: float = 0.0, warmup: int = 0):
        self.lr, self.final, self.steps, self.seconds, self.warmup = lr, final, steps, seconds, warmup
        self.t0 = None

    def progress(self, trainer) -> float:
        if self.seconds:
            return (time.perf_counter() - self.t0) / self.seconds
        return trainer.global_step / self.steps

    def on_train_start(self, trainer, pl_module):
        self.t0 = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        p = min(1.0, self.progress(trainer))
        lr = self.lr * (self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * p)))
        lr *= min(1.0, (trainer.global_step + 1) / (self.warmup + 1))
        for group in trainer.optimizers[0].param_groups:
            group["lr"] = lr

    def on_validation_end(self, trainer, pl_module):
        if self.seconds and self.progress(trainer) >= 1:
            trainer.should_stop = True


def train(s: dict, folder: Path) -> dict:
    """Train, test and save one model into ``folder``; the test errors and times as a dictionary."""
    s = {**DEFAULTS, **s}
    torch.set_num_threads(s["threads"])
    pl.seed_everything(s["seed"], verbose=False)
    db_path = Path(s["database"]) if s["database"] else DATABASE
    t_start = time.perf_counter()
    train_data, val_data, test_data = tools.load_inputs(
        db_path, s["cutoff"], s["train_idx"], s["val_idx"], s["test_idx"]
    )
    n_atoms = np.array([d["_n_atoms"].item() for d in train_data])
    mean_per_atom = torch.tensor(np.mean(np.array([d["energy"].item() for d in train_data]) / n_atoms))
    remove_mean = trn.RemoveOffsets("energy", remove_mean=True, property_mean=mean_per_atom)
    train_data = [trn.CastTo32()(remove_mean(d)) for d in train_data]
    val_data = [trn.CastTo32()(remove_mean(d)) for d in val_data]
    test_data = [trn.CastTo32()(d) for d in test_data]
    train_loader = spk.data.AtomsLoader(
        train_data, batch_size=min(s["batch_size"], len(train_data)), shuffle=True
    )
    val_loader = spk.data.AtomsLoader(val_data, batch_size=250)
    model = build_model(s, mean_per_atom)

    outputs = []
    for name, weight in (("energy", s["energy_weight"]), ("forces", s["force_weight"])):
        metric = {"MAE": torchmetrics.MeanAbsoluteError()}
        loss_fn = {"mse": torch.nn.MSELoss(), "l1": torch.nn.L1Loss()}[s["loss"]]
        outputs.append(spk.task.ModelOutput(name, loss_fn=loss_fn, loss_weight=weight, metrics=metric))
        outputs[-1].metrics["train"] = {}
    task = spk.task.AtomisticTask(
        model=model,
        outputs=outputs,
        optimizer_cls=torch.optim.AdamW,
        optimizer_args={"lr": s["learning_rate"], "weight_decay": s["weight_decay"], "fused": True},
    )
    model_file = str(folder / tools.MODEL_FILE)
    checkpoint = spk.train.ModelCheckpoint(model_file, dirpath=folder, filename="best", monitor="val_loss")
    callbacks = [
        CosineSchedule(s["learning_rate"], s["lr_final"], s["steps"], s["time_s"], s["warmup_steps"]),
        checkpoint,
    ]
    val_every = max(1, s["steps"] // s["val_checks"]) if not s["time_s"] else 250
    trainer = pl.Trainer(
        max_steps=-1 if s["time_s"] else s["steps"],
        max_epochs=-1,
        accelerator="cpu",
        devices=1,
        inference_mode=False,  # validating the forces needs gradients
        callbacks=callbacks,
        logger=False,
        val_check_interval=val_every,  # optimizer steps between validations
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=False,
    )
    t_train = time.perf_counter()
    if tools.fit(trainer, task, train_loader, val_loader, folder):
        raise SystemExit(130)  # Ctrl-C: no result (the point is trained again next time)
    train_s = time.perf_counter() - t_train
    best = float("nan" if checkpoint.best_model_score is None else checkpoint.best_model_score)
    if not math.isfinite(best):
        fail(f"training diverged (validation loss {best}); lower the learning rate ({s['learning_rate']})")

    e_pred, f_pred = tools.predict(tools.load_model(model_file), test_data)
    e_ref = np.array([d["energy"].item() for d in test_data])
    f_ref = np.concatenate([d["forces"].double().numpy() for d in test_data])
    e_err, f_err = e_pred - e_ref, f_pred - f_ref
    result = {
        "energy_mae_kcal_mol": float(np.abs(e_err).mean() * KCAL),
        "force_mae_kcal_mol_A": float(np.abs(f_err).mean() * KCAL),
        "energy_rmse_kcal_mol": float(np.sqrt((e_err**2).mean()) * KCAL),
        "force_rmse_kcal_mol_A": float(np.sqrt((f_err**2).mean()) * KCAL),
        "train_s": train_s,
        "total_s": time.perf_counter() - t_start,
        "steps": int(trainer.global_step),
        "epochs": trainer.global_step / len(train_loader),
        "n_train": len(train_data),
        "parameters": tools.count_parameters(model),
        "best_val_loss": best,
    }
    settings = {k.upper(): v for k, v in s.items() if not k.endswith("_idx")}
    info = {f"test_{k}": v for k, v in result.items()}
    tools.save_model_info(folder, db_path, train_data, mean_per_atom.item(), settings, info)
    return result


def main(folder) -> None:
    """Train the settings in folder/settings.json; write folder/result.json last."""
    folder = Path(folder)
    settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    result = train(settings, folder)
    tmp = folder / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
    tmp.replace(folder / RESULT_FILE)


def serve() -> None:
    """A worker process: train each folder named on stdin (its output goes into folder/log.txt),
    then say DONE folder on stdout. One process trains many: Python, PyTorch and SchNetPack take
    seconds to import, more than a small training."""
    reply = sys.stdout
    for line in sys.stdin:
        folder = Path(line.strip())
        with (
            open(folder / "log.txt", "a", encoding="utf-8") as log,
            redirect_stdout(log),
            redirect_stderr(log),
        ):
            try:
                main(folder)
            except SystemExit as exc:  # fail() wrote its one line into the log
                if exc.code == 130:
                    print("error: interrupted (Ctrl-C)")
            except Exception:
                traceback.print_exc()
        reply.write(f"{DONE}{folder}\n")
        reply.flush()


# ---------------------------------------------------------------------------------------------
# Many trainings (in the script's process)
# ---------------------------------------------------------------------------------------------
def split(n_frames: int, n_test: int, n_val: int, seed: int):
    """Test, validation and pool frame indices: one shuffle of all frames, cut in three. The
    test and validation frames are shared by every training of a script, so all are measured
    alike; training sets are drawn from the pool (training_frames)."""
    perm = np.random.default_rng(seed).permutation(n_frames)
    return perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]


def training_frames(pool, n: int, split_seed: int, seed: int):
    """N frames of the pool, sorted: the first N of the pool's shuffle number ``seed``. The sets
    of one seed are nested (its 25 frames are part of its 50), as when a data set grows."""
    return np.sort(np.random.default_rng([split_seed, seed]).permutation(pool)[:n])


def folder_of(base: Path, s: dict) -> Path:
    """base/<model>_n<frames>_seed<seed>_<hash of the settings and of the database>: a training
    with the same settings (in any script's list) has the same folder. Settings at their default
    value stay out of the hash, so a new knob (at its default) keeps the finished trainings."""
    s = {**DEFAULTS, **_plain(s)}
    db = Path(s["database"] or DATABASE)
    stamp = db.with_name(db.name + ".source.json")
    key = {k: v for k, v in s.items() if k not in DEFAULTS or v != DEFAULTS[k]}
    key.update(database=str(db.resolve()), data=stamp.read_text() if stamp.is_file() else "")
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
    return Path(base) / f"{s['model']}_n{len(s['train_idx'])}_seed{s['seed']}_{digest}"


def load_result(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class Worker:
    """A worker process (serve) and the trainings it is given, one at a time."""

    def __init__(self, log_path: Path):
        with open(log_path, "a", encoding="utf-8") as log:  # what the libraries print outside a training
            command = [sys.executable, "-m", "schnet_tutorial.trainings"]
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )

    def train(self, folder: Path, s: dict) -> dict:
        if folder.exists():
            shutil.rmtree(folder)  # unfinished (or recomputed with force)
        folder.mkdir(parents=True)
        (folder / SETTINGS_FILE).write_text(json.dumps(s), encoding="utf-8")
        self.process.stdin.write(f"{folder}\n")
        self.process.stdin.flush()
        for line in self.process.stdout:  # until the worker says it is done (or ends)
            if line.startswith(DONE):
                break
        result = load_result(folder)
        if result is None:
            log = folder / "log.txt"
            lines = (
                log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                if log.is_file()
                else []
            )
            errors = [line for line in lines if line.startswith("error:")]
            last = (errors or lines or ["the worker process ended"])[-1]
            fail(f"a training failed ({folder.name}): {last}; log: {log}")
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the worker ends when its input ends
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.terminate()


def run_all(trainings: dict, base, workers: int = 2, force: bool = False, say=None) -> dict:
    """Run ``trainings`` ({name: settings}), ``workers`` at a time; {name: result} in their order.

    Finished trainings (same settings) are read from their folders under ``base`` unless
    ``force``; names with the same settings share one training. ``say(name, result, folder,
    cached)`` reports each as it finishes.
    """
    places = folders(trainings, base)
    first = {}  # folder -> the first name that asks for it
    for name, folder in places.items():
        first.setdefault(folder, name)
    done = {}
    for folder, name in first.items():
        if not force and (result := load_result(folder)) is not None:
            done[folder] = result
            if say:
                say(name, result, folder, True)
    todo = [folder for folder in first if folder not in done]
    todo.sort(key=lambda folder: -_work(trainings[first[folder]]))  # the longest first: no long one last
    if not todo:
        return {name: done[folder] for name, folder in places.items()}
    Path(base).mkdir(parents=True, exist_ok=True)
    idle = queue.Queue()
    workers = [Worker(Path(base) / f"worker{k}.log") for k in range(max(1, min(workers, len(todo))))]
    for worker in workers:
        idle.put(worker)

    def job(folder):
        worker = idle.get()
        try:
            result = worker.train(folder, _plain(trainings[first[folder]]))
        finally:
            idle.put(worker)
        if say:
            say(first[folder], result, folder, False)
        return result

    try:
        with ThreadPoolExecutor(max_workers=len(workers)) as pool:
            done.update(zip(todo, pool.map(job, todo)))
    except BaseException:  # an error, or Ctrl-C (in a notebook it reaches only this process)
        for worker in workers:
            worker.process.terminate()
        raise
    finally:
        for worker in workers:
            worker.stop()
    return {name: done[folder] for name, folder in places.items()}


def _work(s: dict) -> float:
    """A training's expected time, in SchNet steps (a PaiNN step of the same size costs about 3)."""
    s = {**DEFAULTS, **s}
    return s["steps"] * (3 if s["model"] == "painn" else 1) * (s["n_features"] / 64) ** 2


def _plain(s: dict) -> dict:
    """JSON-ready settings: index arrays as lists of int."""
    return {k: [int(i) for i in v] if k.endswith("_idx") else v for k, v in s.items()}


def folders(trainings: dict, base) -> dict:
    """{name: folder} of ``trainings`` under ``base`` (where run_all keeps them)."""
    return {name: folder_of(base, s) for name, s in trainings.items()}


if __name__ == "__main__":
    serve()
