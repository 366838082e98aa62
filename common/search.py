"""Hyperparameter search (slide "Best practices when developing an NN"), used by lj_7.

"Hyperparameter tuning on even just a few epochs to screen out unpromising parameter values" and "use
grid search/random search of hyperparameters":
  grid / random_candidates   the candidates: every combination of a few values, or random draws
  run_trial                  one candidate: build the model, train it (common.training.fit), measure it,
                             log it to TensorBoard (scalars + the HParams tab)
  worker_pool / run_trials   the trials one after another, or in parallel worker processes
  write_csv                  the results table, under a name no earlier search has used

Parallel trials use the "spawn" start method on every system (the only one on Windows and the default on
macOS), so what works here works there. Spawned workers import the calling script again: keep a script's
work under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import csv
import itertools
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "results"
HPARAMS = ("learning_rate", "width", "depth", "l2")


def grid(learning_rate, width, depth, l2) -> list[dict]:
    """Every combination of the given values."""
    return [dict(zip(HPARAMS, values)) for values in itertools.product(learning_rate, width, depth, l2)]


def random_candidates(n: int, learning_rate, width, depth, l2, seed: int = 0) -> list[dict]:
    """n random candidates. learning_rate, l2: (low, high), drawn uniformly on a log scale; width: (low,
    high), log scale, rounded; depth: (low, high) integers, uniform."""
    rng = np.random.default_rng(seed)

    def log_uniform(low, high):
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))

    return [dict(learning_rate=float(f"{log_uniform(*learning_rate):.3g}"),
                 width=int(round(log_uniform(*width))),
                 depth=int(rng.integers(depth[0], depth[1] + 1)),
                 l2=float(f"{log_uniform(*l2):.3g}"))
            for _ in range(n)]


def run_trial(trial: dict) -> dict:
    """Train one candidate and return its results.

    trial: hparams (learning_rate, width, depth, l2), name, epochs, patience (None: no early stopping),
    batch_size, seed, n_basis, basis_range, log_dir (a TensorBoard folder, or None), train and validation
    data as (r, energy) tensors, and test data or None (only the finalists are tested, once).
    Returns the hparams plus train_mse, validation_mse (best epoch), test_mse (or nan), best_epoch,
    epochs_run and the validation MSE of every epoch.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from .descriptors import GaussianBasis
    from .mlp import LJModel
    from .training import evaluate, fit, make_optimizer, set_seed

    torch.set_num_threads(1)  # tiny networks; parallel trials each get a core
    hp = trial["hparams"]
    set_seed(trial["seed"])
    model = LJModel(GaussianBasis(trial["n_basis"], *trial["basis_range"]), hp["width"], hp["depth"])
    train = TensorDataset(*trial["train"])
    train_loader = DataLoader(train, batch_size=trial["batch_size"], shuffle=True,
                              generator=torch.Generator().manual_seed(trial["seed"]))

    def whole(data):
        return [tuple(data)]  # all points as one batch

    optimizer = make_optimizer("adam", model.parameters(), hp["learning_rate"], weight_decay=hp["l2"])
    hist = fit(model, train_loader, optimizer, trial["epochs"], val_loader=whole(trial["validation"]),
               patience=trial.get("patience"))  # restores the weights of the best validation epoch
    result = dict(hp, name=trial["name"], train_mse=evaluate(model, whole(trial["train"])),
                  validation_mse=hist.validation[hist.best_epoch] if hist.best_epoch >= 0 else math.inf,
                  best_epoch=hist.best_epoch + 1, epochs_run=hist.stopped_epoch + 1, test_mse=math.nan,
                  curve=hist.validation)  # a diverged trial (nan) has validation_mse inf: it ranks last
    if trial.get("test") is not None:
        result["test_mse"] = evaluate(model, whole(trial["test"]))
    if trial.get("log_dir"):
        _log(trial, hist, result)
    return result


def _log(trial: dict, hist, result: dict) -> None:
    """One TensorBoard folder per trial: loss curves, and hparams with final metrics (HParams tab)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(trial["log_dir"]))
    for epoch, (train, val) in enumerate(zip(hist.train, hist.validation)):
        writer.add_scalar("loss/train_mse", train, epoch)
        writer.add_scalar("loss/validation_mse", val, epoch)
    metrics = {"hparam/validation_mse": result["validation_mse"], "hparam/train_mse": result["train_mse"]}
    if math.isfinite(result["test_mse"]):
        metrics["hparam/test_mse"] = result["test_mse"]
    hparams = dict(trial["hparams"], search=trial.get("search", ""), stage=trial.get("stage", ""),
                   epochs=trial["epochs"])
    writer.add_hparams(hparams, metrics, run_name=".")  # "." = this trial's own folder
    writer.close()


def worker_pool(n_workers: int):
    """A pool of n_workers spawned processes, or None for n_workers = 1 (run in this process)."""
    if n_workers <= 1:
        return None
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"))


def run_trials(trials: list[dict], pool=None) -> list[dict]:
    """Results of run_trial for every trial, in order; in parallel when a pool is given."""
    if pool is None:
        return [run_trial(t) for t in trials]
    return list(pool.map(run_trial, trials))


def unique_path(folder: Path, stem: str, suffix: str) -> Path:
    """folder/stem.suffix, or stem_2, stem_3 ... if taken; created empty, so no other run can take it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    k = 1
    while True:
        path = folder / (f"{stem}{suffix}" if k == 1 else f"{stem}_{k}{suffix}")
        try:
            path.open("x").close()
            return path
        except FileExistsError:
            k += 1


COLUMNS = ("rank", "search", "name", "learning_rate", "width", "depth", "l2", "screen_validation_mse",
           "full_validation_mse", "test_mse", "best_epoch", "epochs_run")


def write_csv(rows: list[dict], folder: Path, stem: str) -> Path:
    """The table as CSV (columns COLUMNS) in a new file; returns its path."""
    path = unique_path(folder, stem, ".csv")
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path
