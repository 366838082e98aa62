"""script2's training pipeline as one function of its settings, for the lessons that train many models.

script2 writes the pipeline out in the page, step by step: that is the lesson. script4 (learning
curves), script5 (a committee) and script6 (active learning) train dozens of models with the very
same pipeline, so here it is one function, ``train(settings, folder, split)``, whose settings are
script2's, under script2's names, with script2's values as ``DEFAULTS``. A test checks that
script2's constants are these defaults and that ``train`` gives the same losses as script2 from the
same seed and data, so the two cannot drift apart.

Also here, the bookkeeping that script2 and ``train`` share, one call each: ``interruptible``
(Ctrl-C keeps the best model so far, a full disk keeps it elsewhere), ``SettingsLogger``
(TensorBoard's HPARAMS table), ``test_model`` (test errors), ``finish`` (model_info.json, HPARAMS, the
check that the model learned something).
"""

from schnet_tutorial.helpers import quiet  # noqa: F401  isort: skip (first: quiets SchNetPack's import)
import contextlib
import math
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import schnetpack as spk
import schnetpack.transform as trn
import torch
import torchmetrics
from pytorch_lightning.core.saving import save_hparams_to_yaml
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter

from common.mlp import count_parameters
from common.runs import DATABASE, log_hparams
from common.settings import QUICK, check, fail, own, quick_settings, warn
from common.training import too_little_training
from schnet_tutorial.helpers import model_files
from schnet_tutorial.helpers.dataset import error_table, load_inputs

# script2's settings (the minute's training), under script2's names
DEFAULTS = {
    "EPOCHS": 20,
    "MODEL": "painn",
    "N_FEATURES": 32,
    "N_INTERACTIONS": 3,
    "N_FILTERS": 32,
    "CUTOFF": 5.0,
    "N_RBF": 20,
    "ACTIVATION": "silu",
    "LEARNING_RATE": 1e-2,
    "LR_SCHEDULE": "cosine",
    "LR_FINAL": 0.01,
    "BATCH_SIZE": 8,
    "LOSS": "l1",
    "ENERGY_WEIGHT": 0.01,
    "FORCE_WEIGHT": 0.99,
    "EMA_DECAY": 0.0,
    "VAL_EVERY": 1,
    "SEED": 0,
    "N_THREADS": 1,
    "DB_PATH": "",
}
# SchNet as the slides draw it (64 features, the MSE cost): script2 with these changes. The learning
# curves (script4) and the committees (script5, script6) train it: it is cheap enough for dozens of
# trainings and for committee MD, and their measured numbers (benchmarks/README.md) are its.
SCHNET_SLIDES = {"MODEL": "schnet", "N_FEATURES": 64, "LOSS": "mse"}
ACTIVATIONS = {  # ACTIVATION -> the function (common.settings.ACTIVATIONS names them)
    "silu": torch.nn.functional.silu,
    "ssp": spk.nn.shifted_softplus,
    "gelu": torch.nn.functional.gelu,
    "relu": torch.nn.functional.relu,
    "tanh": torch.tanh,
    "softplus": torch.nn.functional.softplus,
}
REPRESENTATIONS = {  # MODEL -> SchNetPack's representation
    "schnet": spk.representation.SchNet,
    "painn": spk.representation.PaiNN,
    "so3net": spk.representation.SO3net,
}
SO3NET_LMAX = 2  # SO3net's highest angular order of its features (spherical harmonics up to l = 2)
# A model's test force MAE as a fraction of the zero-force guess's (about 19.5 kcal/mol/Å on ethanol):
# above LEARNED_NOTHING it learned nothing (refused); above FAR_FROM_USABLE (about 10 kcal/mol/Å, 20
# times the error of script2's minute, which reaches ~0.03) it is far from usable: kept, marked in
# model_info.json, and said by script2 and by every script that loads it.
LEARNED_NOTHING = model_files.LEARNED_NOTHING
LONGEST_BOND_A = 1.52  # ethanol's longest bond (C-C, Å): a CUTOFF below it cuts bonds out of the messages
FAR_FROM_USABLE = model_files.FAR_FROM_USABLE


def prepare(db_path, cutoff: float, train_idx, val_idx, test_idx):
    """script2's cell 1 after the split: inputs, the mean energy per atom (eV, float64) of the
    training frames removed from training and validation, float32; the test frames as they are."""
    train_data, val_data, test_data = load_inputs(db_path, cutoff, train_idx, val_idx, test_idx)
    n_atoms = np.array([d["_n_atoms"].item() for d in train_data])
    mean_per_atom = torch.tensor(np.mean([d["energy"].item() for d in train_data] / n_atoms))
    remove_mean = trn.RemoveOffsets("energy", remove_mean=True, property_mean=mean_per_atom)
    train_data = [trn.CastTo32()(remove_mean(d)) for d in train_data]
    val_data = [trn.CastTo32()(remove_mean(d)) for d in val_data]
    test_data = [trn.CastTo32()(d) for d in test_data]
    return train_data, val_data, test_data, mean_per_atom


def build_model(s: dict, mean_per_atom: torch.Tensor):
    """script2's cell 2: the NeuralNetworkPotential."""
    activation = ACTIVATIONS[s["ACTIVATION"]]
    Representation = REPRESENTATIONS[s["MODEL"]]
    filters = {"n_filters": s["N_FILTERS"] or s["N_FEATURES"]} if s["MODEL"] == "schnet" else {}
    filters = {"lmax": SO3NET_LMAX} if s["MODEL"] == "so3net" else filters
    representation = Representation(
        n_atom_basis=s["N_FEATURES"],
        n_interactions=s["N_INTERACTIONS"],
        radial_basis=spk.nn.GaussianRBF(n_rbf=s["N_RBF"], cutoff=s["CUTOFF"]),
        cutoff_fn=spk.nn.CosineCutoff(s["CUTOFF"]),
        activation=activation,
        **filters,
    )
    return spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=s["N_FEATURES"], output_key="energy", activation=activation),
            spk.atomistic.Forces(energy_key="energy", force_key="forces"),
        ],
        postprocessors=[trn.CastTo64(), trn.AddOffsets("energy", add_mean=True, property_mean=mean_per_atom)],
    )


def build_task(s: dict, model):
    """script2's cells 3 and 4: the cost (ModelOutputs) and the AtomisticTask with its optimizer and
    learning-rate schedule."""
    outputs = []
    for name, weight in (("energy", s["ENERGY_WEIGHT"]), ("forces", s["FORCE_WEIGHT"])):
        metric = {"MAE_eV" if name == "energy" else "MAE_eV_per_A": torchmetrics.MeanAbsoluteError()}
        loss_fn = {"mse": torch.nn.MSELoss(), "l1": torch.nn.L1Loss()}[s["LOSS"]]
        outputs.append(spk.task.ModelOutput(name, loss_fn=loss_fn, loss_weight=weight, metrics=metric))
        outputs[-1].metrics["train"] = {}
    return spk.task.AtomisticTask(
        model=model,
        outputs=outputs,
        optimizer_cls=torch.optim.AdamW,
        optimizer_args={"lr": s["LEARNING_RATE"], "fused": True},
        scheduler_cls=torch.optim.lr_scheduler.CosineAnnealingLR if s["LR_SCHEDULE"] == "cosine" else None,
        scheduler_args={"T_max": s["EPOCHS"], "eta_min": s["LR_FINAL"] * s["LEARNING_RATE"]},
    )


def learning_rate_line(s: dict) -> str:
    """What the learning rate does, in numbers: LR_FINAL is a fraction of LEARNING_RATE."""
    rate, final = s["LEARNING_RATE"], s["LR_FINAL"] * s["LEARNING_RATE"]
    if s["LR_SCHEDULE"] == "constant":
        return f"learning rate {rate:g}, constant"
    return f"learning rate {rate:g} falling along a cosine to {final:.3g} (LR_FINAL = {s['LR_FINAL']:g} x LEARNING_RATE) over {s['EPOCHS']} epochs"  # noqa: E501


def warn_unused(s: dict, script: str = "script2_train_schnet") -> None:
    """One warning line per setting changed from its default (or its --quick value) that the chosen
    MODEL or LR_SCHEDULE does not use (finish leaves them out of the record)."""
    default = {**DEFAULTS, **(QUICK.get(script, {}) if quick_settings() else {})}
    if s["MODEL"] != "schnet" and s["N_FILTERS"] != default["N_FILTERS"]:
        warn(
            f"N_FILTERS = {s['N_FILTERS']} is ignored: only SchNet has continuous-filter widths, MODEL = "
            f"{s['MODEL']!r} does not (its width is N_FEATURES); use MODEL = 'schnet' to vary it"
        )
    if s["LR_SCHEDULE"] == "constant" and s["LR_FINAL"] != default["LR_FINAL"]:
        warn(
            f"LR_FINAL = {s['LR_FINAL']:g} is ignored: with LR_SCHEDULE = 'constant' the learning rate stays "
            f"LEARNING_RATE = {s['LEARNING_RATE']:g}; LR_FINAL is for LR_SCHEDULE = 'cosine'"
        )


def budget_stopped(budget_s: float, epochs: int, trainer, interrupted: bool) -> bool:
    """True, and one warning line, if the time budget (TIME_BUDGET_S) stopped the training before its
    EPOCHS were done (not Ctrl-C)."""
    planned = epochs * trainer.num_training_batches
    if not budget_s or interrupted or trainer.global_step >= planned:
        return False
    warn(
        f"the time budget (TIME_BUDGET_S = {budget_s:g} s) stopped the training after {trainer.global_step} "
        f"of {planned} optimizer steps (epoch {trainer.current_epoch} of {epochs}): the best model so far is "
        "tested and saved; raise TIME_BUDGET_S, or set it to 0 to train all EPOCHS"
    )
    return True


class SettingsLogger(TensorBoardLogger):
    """Lightning's TensorBoardLogger, with TensorBoard's HPARAMS table written as the other scripts do.

    Lightning's own ``log_hyperparams`` writes an "experiment" summary that hides the settings of
    every other script's runs in the same runs/ folder. Here it writes only this run's settings
    and its final metrics (``common.runs.log_hparams``), and only when called with metrics:
    Lightning's automatic call at the start (the task's arguments) writes nothing.
    """

    # SCALARS: the loss curves first, the validation errors with their units; Lightning's "epoch"
    # counter (a staircase that would open the tab) is left out: the x axis is the step anyway
    RENAME = {
        "train_loss": "1_loss/train",
        "val_loss": "1_loss/validation",
        "val_energy_MAE_eV": "2_validation_MAE/energy_eV",
        "val_forces_MAE_eV_per_A": "2_validation_MAE/forces_eV_per_A",
    }

    def log_metrics(self, metrics, step=None):
        renamed = {self.RENAME.get(k, k): v for k, v in metrics.items() if k != "epoch"}
        if renamed:
            super().log_metrics(renamed, step)

    def log_hyperparams(self, params, metrics=None):
        if metrics:  # (Lightning closed its own writer when training ended)
            with SummaryWriter(self.log_dir) as writer:
                log_hparams(writer, dict(params), metrics)
            save_hparams_to_yaml(Path(self.log_dir) / self.NAME_HPARAMS_FILE, dict(params))  # not {}


class Interruptible:
    """``with interruptible(model_dir, task) as run: trainer.fit(...)``; afterwards ``run.interrupted``
    is True if Ctrl-C stopped the training (Lightning stops gracefully, keeping the checkpoint so
    far). A write error (a full disk) keeps the model in a temporary folder and says where."""

    def __init__(self, model_dir, task):
        self.model_dir, self.task, self.interrupted = model_dir, task, False

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, SystemExit) and isinstance(exc.__context__, KeyboardInterrupt):
            signal.signal(signal.SIGINT, signal.default_int_handler)  # (Lightning switched Ctrl-C off)
            self.interrupted = True
            return True
        if isinstance(exc, OSError):
            model_files.keep_elsewhere(self.model_dir, exc, self.task.model)
        return False


interruptible = Interruptible


def best_loss(checkpoint, trainer, interrupted: bool, model_dir, remove: bool = True) -> float:
    """The best validation loss; one-line error if there is none or it is not finite (``remove``: and
    the model folder is removed: nothing is saved)."""
    best = float("nan" if checkpoint.best_model_score is None else checkpoint.best_model_score)
    if math.isfinite(best):
        return best
    if remove:
        shutil.rmtree(model_dir, ignore_errors=True)
    check(not interrupted, "training interrupted (Ctrl-C) before its first validation: nothing was saved")
    if checkpoint.best_model_score is None:
        fail(
            f"no validation ran in {trainer.current_epoch} epochs: nothing was saved; make VAL_EVERY "
            "at most EPOCHS"
        )
    rate = own("LEARNING_RATE", "the learning rate")  # (script4-6 train at script2's rate)
    fail(f"training diverged (validation loss {best}): nothing was saved; lower {rate}")


def test_model(model_file, test_data):
    """Predictions (eV, eV/Å) of the saved model on the test frames, the reference, and the errors
    {name: value} in kcal/mol and kcal/mol/Å."""
    e_pred, f_pred = model_files.predict_energy_forces(model_files.load_model(model_file), test_data)
    e_ref = np.array([d["energy"].item() for d in test_data])
    f_ref = np.concatenate([d["forces"].double().numpy() for d in test_data])
    return (e_pred, f_pred), (e_ref, f_ref), error_table(e_pred, f_pred, e_ref, f_ref)


def what_to_change(s: dict, results: dict, n_train: int) -> str:
    """Why a model learned (too) little and what to change, cause first, named as the running script
    names its settings (``common.settings.own``: script4-6 have no EPOCHS, their workers none at all):
    a time budget that stopped it, a CUTOFF shorter than the bonds, too few optimizer steps (their
    count), a learning rate far from the default; else more training."""
    if results.get("stopped_by_time_budget"):
        return f"raise {own('TIME_BUDGET_S', 'the time budget')} (it stopped the training early)"
    s = {**DEFAULTS, **s}
    epochs = results.get("epochs_done", s["EPOCHS"])
    steps = results.get("steps") or epochs * math.ceil(n_train / s["BATCH_SIZE"])
    causes = too_little_training(
        steps, n_train, s["BATCH_SIZE"], s["LEARNING_RATE"], DEFAULTS["LEARNING_RATE"], epochs, s["EPOCHS"],
        s.get("TIME_BUDGET_S", 0.0),
    )  # fmt: skip
    cutoff = own("CUTOFF", "the cutoff")
    if s["CUTOFF"] < LONGEST_BOND_A:  # cause first
        short = f"{cutoff} = {s['CUTOFF']:g} Å is shorter than the C-C bond ({LONGEST_BOND_A} Å)"
        default = f"default {DEFAULTS['CUTOFF']:g} Å"
        causes[:0] = [f"{short}: atoms see too few neighbours; raise {cutoff} ({default})"]
    more, frames = own("EPOCHS", own("STEPS", "optimizer steps")), own("N_TRAIN", "training frames")
    return "; ".join(causes) or f"train longer (more {more}) or on more frames ({frames})"


def finish(model_dir, db_path, train_data, mean_per_atom, settings, results, interrupted=False, logger=None):
    """The model's bookkeeping: model_info.json (which marks it finished) and, with ``logger``,
    TensorBoard's HPARAMS row. A model that learned nothing (test force error no better than
    guessing zero forces: a too large LEARNING_RATE, a CUTOFF shorter than the bonds, a training
    stopped early) is marked so, never becomes the newest model for the next script, and stops the
    script with one line; one far from usable (FAR_FROM_USABLE) is marked and said in one line.
    Settings the model did not use (N_FILTERS of a PaiNN, LR_FINAL of a constant rate) are left out."""
    zero_force = results["zero_force_mae_kcal_mol_A"]
    learned = results["force_mae_kcal_mol_A"] < LEARNED_NOTHING * zero_force
    usable = results["force_mae_kcal_mol_A"] < FAR_FROM_USABLE * zero_force
    if settings.get("MODEL") != "schnet":
        settings = {k: v for k, v in settings.items() if k != "N_FILTERS"}  # SchNet's alone
    if settings.get("LR_SCHEDULE") == "constant":
        settings = {k: v for k, v in settings.items() if k != "LR_FINAL"}  # the cosine's alone
    if logger is not None:
        metrics = {
            "test/energy_MAE_kcal_per_mol": results["energy_mae_kcal_mol"],
            "test/force_MAE_kcal_per_mol_A": results["force_mae_kcal_mol_A"],
        }
        logger.log_hyperparams(settings, metrics)
    model_files.save_model_info(
        model_dir, db_path, train_data, mean_per_atom, settings, results, interrupted, learned, usable
    )
    if not learned:
        fail(
            f"the model learned nothing: test force MAE {results['force_mae_kcal_mol_A']:.3g} kcal/mol/Å, no "
            f"better than guessing zero forces ({zero_force:.3g}); it is kept in "
            f"{model_dir} but not used by the next scripts; "
            + what_to_change(settings, results, len(train_data)),
            code=1,
        )  # fmt: skip
    if not usable:
        warn(
            f"the model is far from usable: test force MAE {results['force_mae_kcal_mol_A']:.3g} kcal/mol/Å, "
            f"{results['force_mae_kcal_mol_A'] / zero_force:.0%} of guessing zero forces ({zero_force:.3g}); "
            "it is saved and marked so, and the next scripts say so when they use it; "
            + what_to_change(settings, results, len(train_data))
        )  # fmt: skip
    if interrupted:
        warn(
            f"training interrupted (Ctrl-C) after {results['epochs_done']} of {settings['EPOCHS']} epochs: "
            "the best model so far is tested and saved, marked as interrupted"
        )


def train(settings: dict, folder, train_idx, val_idx, test_idx) -> dict:
    """Train, test and save one model into ``folder`` exactly as script2 does (``settings``: script2's
    names, the rest from DEFAULTS); the test errors, times and sizes as a dictionary."""
    s = {**DEFAULTS, **settings}
    folder = Path(folder)
    torch.set_num_threads(s["N_THREADS"])
    t_start = time.perf_counter()
    db_path = Path(s["DB_PATH"]) if s["DB_PATH"] else DATABASE
    train_data, val_data, test_data, mean_per_atom = prepare(
        db_path, s["CUTOFF"], train_idx, val_idx, test_idx
    )
    pl.seed_everything(s["SEED"], verbose=False)
    train_loader = spk.data.AtomsLoader(train_data, batch_size=s["BATCH_SIZE"], shuffle=True)
    val_loader = spk.data.AtomsLoader(val_data, batch_size=250)
    model = build_model(s, mean_per_atom)
    task = build_task(s, model)
    np.savez(folder / "split.npz", train_idx=train_idx, val_idx=val_idx, test_idx=test_idx)
    model_file = str(folder / model_files.MODEL_FILE)
    checkpoint = spk.train.ModelCheckpoint(model_file, dirpath=folder, filename="best", monitor="val_loss")
    average = [spk.train.ExponentialMovingAverage(decay=s["EMA_DECAY"])] if s["EMA_DECAY"] else []
    trainer = pl.Trainer(
        max_epochs=s["EPOCHS"],
        accelerator="cpu",
        devices=1,
        inference_mode=False,  # validating the forces needs gradients
        callbacks=[checkpoint, *average],
        logger=False,
        check_val_every_n_epoch=s["VAL_EVERY"],
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=False,
    )
    t_train = time.perf_counter()
    with interruptible(folder, task) as run:
        trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader)
    if run.interrupted:
        raise SystemExit(130)  # Ctrl-C: no result (the training is done again next time)
    train_s = time.perf_counter() - t_train
    best = best_loss(checkpoint, trainer, False, folder, remove=False)  # (workers.py keeps its log there)
    _, _, errors = test_model(model_file, test_data)
    results = {
        **errors,
        "train_s": train_s,
        "total_s": time.perf_counter() - t_start,
        "steps": int(trainer.global_step),
        "epochs_done": trainer.current_epoch,
        "n_train": len(train_data),
        "parameters": count_parameters(model),
        "best_val_loss": best,
    }
    with contextlib.suppress(SystemExit):  # a model that learned nothing is a result here too
        finish(folder, db_path, train_data, mean_per_atom.item(), s, results)
    return results


def epochs_for(steps: int, n_train: int, batch_size: int = DEFAULTS["BATCH_SIZE"]) -> int:
    """The epochs that make about ``steps`` optimizer steps on ``n_train`` frames (at least 1)."""
    return max(1, round(steps / math.ceil(n_train / batch_size)))
