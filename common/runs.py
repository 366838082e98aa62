"""Where the scripts write, and one new TensorBoard folder per run (slide "A model to play with").

Everything a script writes goes under the project folder: ``figures/``, ``runs/`` (TensorBoard),
``results/``, and for the SchNet part ``schnet_tutorial/models/``, ``schnet_tutorial/ase_calcs/`` and
the database ``schnet_tutorial/data/ethanol.db``. The environment variable ``ML_TUTORIAL_OUTPUT``
moves all of them under another folder (the tests and the docs build use a temporary one, so that
they never touch a student's results); ``~`` and ``$HOME``-style variables in it are expanded, also
when an environment dialog passes them unexpanded. The shipped data always stay in the project.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def output_root(value: str | None) -> Path:
    """The output folder that ML_TUTORIAL_OUTPUT names (the project folder when it is unset or empty):
    ``~`` and ``$VARIABLES`` (``%VARIABLES%`` on Windows) are expanded, as a shell would, also when an
    environment dialog passes the text as typed, quotes included. A value that still names no folder
    (an unknown variable or user, a line break) stops with one line."""
    text = (value or "").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()  # '~/mlout' typed with its quotes
    if not text:
        return REPO_ROOT
    expanded = os.path.expandvars(os.path.expanduser(text))
    left = re.search(r"\$\{?\w+\}?|%\w+%", expanded)
    reason = (
        f"{left.group(0)} is not an environment variable here"
        if left
        else f"{re.split(r'[/\\\\]', expanded)[0]} is no user's home folder here"
        if expanded.startswith("~")
        else "it holds a line break or a control character"
        if any(ord(c) < 32 for c in expanded)
        else ""
    )
    if reason:
        from .settings import fail

        fail(
            f"ML_TUTORIAL_OUTPUT={value!r} is not a folder ({reason}): set it to a folder, e.g. "
            "~/ml_tutorial_output"
        )
    return Path(expanded).resolve()


OUTPUT_ROOT = output_root(os.environ.get("ML_TUTORIAL_OUTPUT"))
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

# TensorBoard's HPARAMS table: one column per setting and per metric. TensorBoard orders the setting
# columns by name, those marked as "differing" first, and ticks (shows) only the first five settings
# and the first five metrics. Every run therefore writes the same table definition (TABLE_SETTINGS,
# TABLE_METRICS): the five settings the lessons vary are marked, so they are the ones shown; the
# metrics of the best epoch come first; and the settings of lj_3, lj_7 and script2 all have their
# column (a run of one script would otherwise hide the columns of the others).
COMPARED = ("ACTIVATION", "DEPTH", "L2", "LEARNING_RATE", "WIDTH")  # shown first, and ticked
NOT_IN_TABLE = ("DEVICE", "N_THREADS", "ACCELERATOR", "DEVICES", "NUM_NODES", "PROGRESS_BAR", "DB_PATH")
TABLE_SETTINGS = COMPARED + (  # then, by name: every other setting lj_3, lj_7 and script2 use
    *"BASIS_MAX BASIS_MIN BATCH_SIZE CUTOFF DESCRIPTOR EMA_DECAY ENERGY_WEIGHT EPOCHS FORCE_WEIGHT LOSS "
    "LR_FINAL LR_SCHEDULE MODEL MOMENTUM N_BASIS N_FEATURES N_FILTERS N_INTERACTIONS N_RBF N_TEST N_TRAIN "
    "N_VAL NOISE OPTIMIZER PATIENCE R_MAX R_MIN SEED TIME_BUDGET_S VAL_EVERY".split(),
    "search",  # lj_7's trial labels: grid or random search, screen or full training
    "stage",
)
TABLE_METRICS = (  # the tested model's errors first: the restored best epoch's (lj_3, lj_7) or the saved
    f"{BEST}validation_MSE_eps2",  # model's (script2, the best validation loss), then the last epoch's
    f"{BEST}test_MSE_eps2",
    "test/force_MAE_kcal_per_mol_A",
    "test/energy_MAE_kcal_per_mol",
    f"{BEST}train_MSE_eps2",
    f"{BEST}epoch",
    LOSS_TAGS["validation"],
    LOSS_TAGS["train"],
)


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
    that one setting is one column for every script; the hardware (NOT_IN_TABLE) is left out: it
    changes the speed, not the model. ``metrics`` are among TABLE_METRICS (another one would have no
    column: tests/test_tensorboard.py checks).

    The run's settings go into a "session start" and the metrics are ordinary scalars of the run
    (``torch.utils.tensorboard``'s ``add_hparams`` would write them into an extra sub-run). Its
    table definition is the project's (``table_definition``), the same in every run.
    """
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    clean = {
        k: v if isinstance(v, (int, float, str, bool)) else str(v)
        for k, v in hparams.items()
        if k not in NOT_IN_TABLE
    }
    _, session_start, session_end = hparams_summary(clean, {})
    writer.file_writer.add_summary(table_definition())
    writer.file_writer.add_summary(session_start)
    for name, value in metrics.items():
        writer.add_scalar(name, value, step)
    writer.file_writer.add_summary(session_end)
    writer.flush()


def table_definition():
    """TensorBoard's HPARAMS table as the project defines it (an "experiment" summary): the columns
    TABLE_SETTINGS, typed as their rules say, COMPARED marked as differing, and TABLE_METRICS in order."""
    from google.protobuf.struct_pb2 import ListValue, Value
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    from .rules import RULES

    kinds = {bool: "DATA_TYPE_BOOL", str: "DATA_TYPE_STRING"}  # numbers: DATA_TYPE_FLOAT64
    choices = {"search": ("grid", "random"), "stage": ("screen", "full")}  # lj_7's labels
    for name, rule in RULES.items():  # a choice's values (rules.choice: "one of a, b, c"): HPARAMS's filter
        if rule.kind is str and rule.says.startswith("one of "):
            choices[name] = tuple(rule.says.removeprefix("one of ").split(", "))
    settings = [
        api_pb2.HParamInfo(
            name=name,
            type=api_pb2.DataType.Value(
                kinds.get(RULES[name].kind if name in RULES else str, "DATA_TYPE_FLOAT64")
            ),
            domain_discrete=ListValue(values=[Value(string_value=c) for c in choices[name]])
            if name in choices
            else None,
            differs=name in COMPARED,
        )
        for name in TABLE_SETTINGS
    ]
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in TABLE_METRICS]
    experiment = api_pb2.Experiment(hparam_infos=settings, metric_infos=metrics)
    content = metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(experiment=experiment))
    return Summary(value=[Summary.Value(tag=metadata.EXPERIMENT_TAG, metadata=content)])


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
