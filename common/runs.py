"""Where the scripts write, and one new TensorBoard folder per run (slide "A model to play with").

Everything a script writes goes under the project folder: ``figures/``, ``runs/`` (TensorBoard),
``results/``, and for the SchNet part ``schnet_tutorial/models/``, ``schnet_tutorial/ase_calcs/`` and
the database ``schnet_tutorial/data/ethanol.db``. The environment variable ``ML_TUTORIAL_OUTPUT``
moves all of them under another folder (the tests and the docs build use a temporary one, so that
they never touch a student's results). The shipped data always stay in the project.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_ROOT = Path(os.environ.get("ML_TUTORIAL_OUTPUT") or REPO_ROOT).resolve()
FIGURES_DIR = OUTPUT_ROOT / "figures"
RUNS_DIR = OUTPUT_ROOT / "runs"
RESULTS_DIR = OUTPUT_ROOT / "results"
SCHNET_DIR = REPO_ROOT / "schnet_tutorial"  # the scripts and the shipped data
SCHNET_DATA_DIR = SCHNET_DIR / "data"
SCHNET_OUTPUT_DIR = OUTPUT_ROOT / "schnet_tutorial"  # what the SchNet scripts write
MODELS_DIR = SCHNET_OUTPUT_DIR / "models"
ASE_CALCS_DIR = SCHNET_OUTPUT_DIR / "ase_calcs"
DATABASE = SCHNET_OUTPUT_DIR / "data" / "ethanol.db"


def new_run_dir(base: Path, name: str) -> Path:
    """Create and return base/name, or base/name_2, name_3, ... if taken: never overwrite a run."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    path, k = base / name, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            k += 1
            path = base / f"{name}_{k}"


# TensorBoard's tags. SCALARS sorts its groups (the part before "/") alphabetically: "1_loss" comes
# before every group named with a letter (Lightning's "epoch" too), so the loss curves come first.
# Every name carries its unit: the LJ MSE is in epsilon^2 (reduced units).
LOSS_TAGS = {
    "train": "1_loss/log10_train_MSE_eps2",  # log10 of the epoch's training MSE, after every epoch
    "validation": "1_loss/log10_validation_MSE_eps2",
}
BEST = "best_epoch/"  # metrics of the restored weights of the best validation epoch, and its number


def short(value) -> str:
    """A setting's value in a folder name: 1e-03 or 1.5e-04 for small numbers (never rounded to
    another value), else as printed."""
    if isinstance(value, float) and value and abs(value) < 0.01:
        mantissa, exponent = f"{value:.6e}".split("e")
        return f"{float(mantissa):g}e{exponent}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_name(**settings) -> str:
    """'lr1e-03_w40' style name from keyword settings (short, and safe on every OS)."""
    parts = [f"{key}{short(value)}" for key, value in settings.items()]
    return "_".join(parts).replace("/", "-").replace(":", "-").replace("+", "")


def log_hparams(writer, hparams: dict, metrics: dict, step: int = 0) -> None:
    """Put this run in TensorBoard's HPARAMS table: its settings and its final metrics (at ``step``).

    ``hparams`` are named as the settings at the top of the scripts (LEARNING_RATE, WIDTH, ...), so
    that one setting is one column for every script.

    Only the run's own settings are written (a "session start"), never an experiment definition:
    TensorBoard then builds the table from all runs in the log folder, so runs of different scripts
    (lj_3, lj_7, SchNet) each show their own settings. The metrics are ordinary scalars of the run
    (``torch.utils.tensorboard``'s ``add_hparams`` would write them into an extra sub-run, and its
    experiment definition would hide the columns of every other script's runs).
    """
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    clean = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items()}
    _, session_start, session_end = hparams_summary(clean, {k: 0.0 for k in metrics})
    writer.file_writer.add_summary(session_start)
    for name, value in metrics.items():
        writer.add_scalar(name, value, step)
    writer.file_writer.add_summary(session_end)
    writer.flush()


def loss_writer(run_dir: Path):
    """A TensorBoard SummaryWriter for ``run_dir`` whose CUSTOM SCALARS tab draws the training and
    validation loss (``LOSS_TAGS``, as ``training.fit`` logs them) on one chart."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir))
    layout = {
        "loss": {
            "log10 MSE (epsilon^2): training and validation": [
                "Multiline",
                [LOSS_TAGS["train"], LOSS_TAGS["validation"]],
            ]
        }
    }
    writer.add_custom_scalars(layout)
    return writer
