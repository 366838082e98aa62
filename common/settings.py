"""The settings at the top of every script: checked, and changed from the command line.

Every script keeps its settings as UPPERCASE constants at the top, followed by one line:

    setup(globals(), "lj_3_hyperparameters")

which, in this order,
  1. applies the script's reduced settings from ``QUICK`` when asked for (``--quick`` on the command
     line, or the environment variable ``ML_TUTORIAL_QUICK=1``: the tests and the docs use these);
  2. applies command-line overrides (``--learning-rate 0.01``), but only when the script runs as a
     program (``python x.py``, Spyder's Run file, ``%run x.py --epochs 10``). In a Jupyter or VS Code
     kernel ``sys.argv`` belongs to the kernel and is left alone;
  3. checks the type and range of every setting against ``RULES`` and stops with a one-line
     ``error: ...`` (exit code 2) when one is wrong, e.g. ``EPOCHS = 40.0`` or ``LEARNING_RATE = "1e-3"``;
  4. runs PyTorch on ``N_THREADS`` CPU threads (1 when a script has no such setting: the lessons'
     networks are so small that a second thread only adds waiting).

This module does not import PyTorch, so a bad value is reported at once.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path


class SettingError(ValueError):
    """A bad setting: reported as one line."""


def fail(message: str, code: int = 2):
    """Print 'error: message' on stderr and stop with a non-zero exit code, without a traceback."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def warn(message: str) -> None:
    """One line ``warning: message`` on stderr: the script goes on."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def check(condition: bool, message: str) -> None:
    """Stop with a one-line error when ``condition`` is false."""
    if not condition:
        fail(message)


# ---------------------------------------------------------------------------------------------
# What each setting may be
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    kind: type  # int, float, str, bool, list or tuple
    test: object = None  # a function value -> bool (for lists: applied to each item)
    says: str = ""  # what a good value is, for the error message
    item: type | None = None  # lists and tuples: the type of their items
    length: int | None = None  # tuples: how many items


def _number(kind, low=None, high=None, low_open=False, high_open=False, says=""):
    def test(v):
        if not math.isfinite(v):
            return False
        if low is not None and (v <= low if low_open else v < low):
            return False
        return not (high is not None and (v >= high if high_open else v > high))

    return Rule(kind, test, says)


def choice(*names):
    return Rule(str, lambda v: v in names, "one of " + ", ".join(names))


INT_1 = _number(int, 1, says="an integer >= 1")
INT_0 = _number(int, 0, says="an integer >= 0")
INT_2 = _number(int, 2, says="an integer >= 2")
POSITIVE = _number(float, 0, low_open=True, says="a finite number > 0")
NON_NEGATIVE = _number(float, 0, says="a finite number >= 0")
FRACTION = _number(float, 0, 1, high_open=True, says="a number in [0, 1)")
ANY_NUMBER = _number(float, says="a finite number")
TEXT = Rule(str, None, "text")
FLAG = Rule(bool, None, "True or False")
PATH = Rule(str, None, 'a path in quotes ("" for the default)')
DEVICE = choice("auto", "cpu", "cuda", "mps")


def number_list(item, test, says, length=None, kind=list):
    return Rule(kind, test, says, item=item, length=length)


ACTIVATIONS = ("gelu", "relu", "tanh", "silu", "softplus", "ssp")  # ssp: SchNet's shifted softplus
MODELS = ("schnet", "painn")  # the SchNetPack representations the lessons train
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")

INTS_1 = number_list(int, lambda v: v >= 1, "a list of integers >= 1")
NUMBERS_0 = number_list(float, lambda v: 0 <= v < math.inf, "a list of numbers >= 0")
NUMBERS_POSITIVE = number_list(float, lambda v: 0 < v < math.inf, "a list of numbers > 0")
MODEL_SHAPE = number_list(int, lambda v: v >= 1, "(basis functions, width, depth), each >= 1", 3, tuple)


def choice_list(*names):
    return number_list(str, lambda v: v in names, "a list of " + " and/or ".join(names))


def named(rule: Rule, names: str) -> dict[str, Rule]:
    return dict.fromkeys(names.split(), rule)


# fmt: off
# One rule per name: a setting name means the same thing in every script (N_TRAIN is always one number
# of training frames, STEPS optimizer steps, MD_STEPS molecular-dynamics steps, MODEL an architecture,
# MODEL_FILE a model file, N_SEEDS a number of repeats, SEED one seed).
RULES: dict[str, Rule] = {
    # Lennard-Jones data (reduced units: r in sigma, E in epsilon), models and training
    **named(INT_1, "N_POINTS N_TRAIN N_VAL N_BASIS WIDTH DEPTH BATCH_SIZE EPOCHS STEPS PATIENCE N_SEEDS "
                   "N_THREADS SURFACE_STEPS SCREEN_EPOCHS TOP_K FULL_EPOCHS NOISY_RUNS"),
    **named(INT_0, "N_TEST SPLIT_SEED SEED N_RANDOM"),
    **named(POSITIVE, "R_MIN R_MAX R_EXTRAPOLATE LEARNING_RATE ADAM_LEARNING_RATE SURFACE_LEARNING_RATE"),
    **named(NON_NEGATIVE, "NOISE L2 SURFACE_NOISE"),
    **named(ANY_NUMBER, "BASIS_MIN BASIS_MAX"),
    "DESCRIPTOR": choice("gaussian", "one_hot"), "ACTIVATION": choice(*ACTIVATIONS),
    "OPTIMIZER": choice(*OPTIMIZERS), "MOMENTUM": FRACTION, "DEVICE": DEVICE,
    "SMALL": MODEL_SHAPE, "LARGE": MODEL_SHAPE, "WIDTHS": INTS_1, "L2_STRENGTHS": NUMBERS_0,
    "TRAIN_SIZES": INTS_1, "SETS_PER_SIZE": INTS_1,
    "SURFACE_START": number_list(float, math.isfinite, "(x, y), two numbers", 2, tuple),
    "GRID_LEARNING_RATE": NUMBERS_POSITIVE, "GRID_WIDTH": INTS_1, "GRID_DEPTH": INTS_1, "GRID_L2": NUMBERS_0,
    "LEARNING_RATE_RANGE": number_list(float, lambda v: 0 < v < math.inf, "(low, high) > 0", 2, tuple),
    "WIDTH_RANGE": number_list(int, lambda v: v >= 1, "(low, high), integers >= 1", 2, tuple),
    "DEPTH_RANGE": number_list(int, lambda v: v >= 1, "(low, high), integers >= 1", 2, tuple),
    "L2_RANGE": number_list(float, lambda v: 0 < v < math.inf, "(low, high) > 0", 2, tuple),
    # files ("" = the project's own)
    **named(PATH, "DB_PATH DATA_FILE MD17_FILE MODEL_FILE MODEL_FILE_2"),
    # SchNet: data (script1) and training (script2; script4-6 train with the same pipeline)
    "SOURCE": choice("bundled", "md17", "rmd17"), "FORCE": FLAG, "PROGRESS_BAR": FLAG, "WRITE_GIF": FLAG,
    **named(INT_1, "N_FEATURES N_INTERACTIONS N_RBF VAL_EVERY DEVICES NUM_NODES MD_STEPS N_LADDER N_WORKERS "
                   "FIT_UP_TO AL_START AL_BATCH AL_ROUNDS"),
    **named(INT_2, "COMMITTEE N_BINS"), "RELABEL": INT_0,
    "N_FILTERS": INT_0, "CUTOFF": POSITIVE, "MODEL": choice(*MODELS), "MODELS": choice_list(*MODELS),
    "LOSS": choice("mse", "l1"), "LADDER": choice("short", "full", "none"),
    **named(NON_NEGATIVE, "TIME_BUDGET_S ENERGY_WEIGHT FORCE_WEIGHT FRICTION_PER_FS"),
    "LR_SCHEDULE": choice("cosine", "constant"),
    "LR_FINAL": _number(float, 0, 1, low_open=True, says="a number in (0, 1]"),
    "ACCELERATOR": choice("cpu", "gpu", "auto"),
    # SchNet: molecular dynamics (script3), uncertainty (script5) and vibrations (script7)
    "ENERGY_UNIT": choice("", "eV", "kcal/mol", "kJ/mol", "Hartree"), "START": TEXT,
    "THERMOSTAT": choice("langevin", "nve"), "CALCULATOR": choice("fast", "spk"),
    "TEMPERATURE_K": _number(float, 0, 10000, low_open=True, says="a temperature in (0, 10000] K"),
    "TEMPERATURES_K": number_list(float, lambda v: 0 < v <= 10000, "a list of temperatures in (0, 10000] K"),
    "THRESHOLD_QUANTILE": _number(float, 0, 1, low_open=True, high_open=True, says="a fraction in (0, 1)"),
    "TIMESTEP_FS": _number(float, 0, 20, low_open=True, says="a time step in (0, 20] fs (0.5 is typical)"),
    "TRAJ_INTERVAL": INT_1, "LOG_INTERVAL": INT_1,
    "MAX_BOND_STRETCH": _number(float, 1, low_open=True, says="a number > 1"),
    "MAX_BOND_COMPRESSION": _number(float, 0, 1, low_open=True, high_open=True, says="a number in (0, 1)"),
    **named(POSITIVE, "MAX_DRIFT_MEV_PER_ATOM OPT_FMAX_EV_A CORRELATION_FS"),
    "HESSIAN_STEP_A": _number(float, 0, 0.1, low_open=True, says="a displacement in (0, 0.1] Å"),
}

# Relations between settings, checked when a script has all the names: (names, test, message)
RELATIONS = [
    (("R_MIN", "R_MAX"), lambda a, b: a < b, "need R_MIN < R_MAX (sigma), got {} and {}"),
    (("R_MAX", "R_EXTRAPOLATE"), lambda a, b: a < b, "need R_MAX < R_EXTRAPOLATE, got {} and {}"),
    (("BASIS_MIN", "BASIS_MAX"), lambda a, b: a < b, "need BASIS_MIN < BASIS_MAX, got {} and {}"),
    *[((name,), lambda r: r[0] <= r[1], name + " must be (low, high) with low <= high, got {}")
      for name in ("LEARNING_RATE_RANGE", "WIDTH_RANGE", "DEPTH_RANGE", "L2_RANGE")],
    (("VAL_EVERY", "EPOCHS"), lambda v, e: v <= e,
     "VAL_EVERY ({}) must be at most EPOCHS ({}): no validation would run, and no model be kept"),
    (("ENERGY_WEIGHT", "FORCE_WEIGHT"), lambda e, f: e + f > 0,
     "ENERGY_WEIGHT and FORCE_WEIGHT must not both be 0, got {} and {}"),
    (("CORRELATION_FS", "MD_STEPS", "TIMESTEP_FS"), lambda c, n, dt: c <= n * dt / 2,
     "need CORRELATION_FS <= MD_STEPS x TIMESTEP_FS / 2 (half the run, fs), got {}, {} and {}"),
]

# Reduced settings for the tests and a quick look (--quick or ML_TUTORIAL_QUICK=1): {script: {...}}
QUICK: dict[str, dict] = {
    "lj_1_overfit": {"EPOCHS": 50, "N_SEEDS": 2},
    "lj_2_overfit_with_validation": {"EPOCHS": 60, "PATIENCE": 20},
    "lj_3_hyperparameters": {"EPOCHS": 30, "N_TRAIN": 30},
    "lj_4_learning_curve": {"TRAIN_SIZES": [10, 40, 160], "N_SEEDS": 3, "EPOCHS": 150},
    "lj_5_bias_variance": {"WIDTHS": [2, 16, 64], "L2_STRENGTHS": [0.0, 1e-3], "N_SEEDS": 3, "EPOCHS": 150},
    "lj_6_optimizers": {"STEPS": 150},
    "lj_7_hyperparameter_search": {"GRID_LEARNING_RATE": [1e-2], "GRID_WIDTH": [8, 16], "GRID_DEPTH": [1],
                                   "GRID_L2": [0.0], "N_RANDOM": 2, "SCREEN_EPOCHS": 10, "TOP_K": 2,
                                   "FULL_EPOCHS": 40},
    "script1_prepare_data": {},
    # script2: a model in 2 s that still runs script3's 100 quick MD steps without breaking a bond
    "script2_train_schnet": {"N_TRAIN": 200, "N_VAL": 50, "N_TEST": 0, "EPOCHS": 5, "N_FEATURES": 16,
                             "N_FILTERS": 0, "N_INTERACTIONS": 1},
    "script3_run_md": {"MD_STEPS": 100},
    # script4: a SchNet curve of 2 sizes and the 4 short rungs on the larger one, seconds each
    "script4_learning_curve": {"MODELS": ["schnet"], "TRAIN_SIZES": [10, 100], "SETS_PER_SIZE": [2, 1],
                               "STEPS": 150, "N_VAL": 20, "N_TEST": 50, "N_LADDER": 100},
    "script7_vibrations": {"MD_STEPS": 1000, "CORRELATION_FS": 200.0},
    # script5: a committee of 2 small trainings, 100 MD steps; script6: one round of active learning
    "script5_uncertainty": {"COMMITTEE": 2, "N_TRAIN": 200, "STEPS": 150, "N_TEST": 200, "N_VAL": 50,
                            "MD_STEPS": 100},
    "script6_active_learning": {"COMMITTEE": 2, "STEPS": 100, "N_TEST": 200, "N_VAL": 50, "AL_START": 20,
                                "AL_BATCH": 20, "AL_ROUNDS": 1, "N_SEEDS": 1, "MD_STEPS": 100},
}
# fmt: on


_QUICK_RUN = False  # set by setup: this run uses the reduced settings
_SETTINGS: dict = {}  # set by setup: the running script's settings, checked


# ---------------------------------------------------------------------------------------------
# The one line of set-up
# ---------------------------------------------------------------------------------------------
def setup(namespace: dict, script: str) -> None:
    """Quick settings, command-line overrides, checks and threads for a script's ``globals()``."""
    argv = command_line(namespace)
    quick = "--quick" in argv or _truthy(os.environ.get("ML_TUTORIAL_QUICK", ""))
    argv = [a for a in argv if a != "--quick"]
    global _QUICK_RUN
    _QUICK_RUN = quick
    if quick:
        reduced = QUICK.get(script, {})
        changes = ", ".join(
            f"{k} {namespace.get(k)!r} -> {v!r}" for k, v in reduced.items() if namespace.get(k) != v
        )
        print(
            f"reduced settings (--quick or ML_TUTORIAL_QUICK): {changes or 'none for this script'}; "
            "the numbers below are not those of the settings above",
            flush=True,
        )
        namespace.update(reduced)
    if "--help" in argv or "-h" in argv:
        print(usage(namespace, script))
        raise SystemExit(0)
    apply_overrides(namespace, argv, script)
    check_settings(namespace, script)
    _SETTINGS.clear()
    _SETTINGS.update({name: namespace[name] for name in settings_of(namespace)})
    check_writable()
    _limit_threads(namespace.get("N_THREADS", 1))
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _missing_setting_hook


def _missing_setting_hook(kind, exc, tb):
    """A setting's line deleted from the top of a script: one line that says so, not a traceback."""
    name = getattr(exc, "name", "") or ""
    if issubclass(kind, NameError) and name.isupper():
        print(
            f"error: the setting {name} is not defined: put its line ({name} = ...) back into the settings "
            "at the top of the script (the project's copy on the website or in git has it)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    sys.__excepthook__(kind, exc, tb)


def quick_settings() -> bool:
    """True when the running script uses its reduced settings (--quick or ML_TUTORIAL_QUICK=1)."""
    return _QUICK_RUN


def settings_used() -> dict:
    """The running script's settings as ``setup`` checked them: {name: value} (for its records)."""
    return dict(_SETTINGS)


def command_line(namespace: dict) -> list[str]:
    """The script's own command-line arguments, or [] when it does not run as a program.

    A script runs as a program when ``sys.argv[0]`` is its own file: ``python x.py``, Spyder's
    runfile and IPython's ``%run`` all set both. In a notebook or an interactive window there is no
    ``__file__`` (or ``sys.argv`` is the kernel's: ``ipykernel_launcher.py -f ...``).
    """
    file = namespace.get("__file__")
    if not file or not sys.argv or not sys.argv[0]:
        return []
    try:
        same = Path(sys.argv[0]).resolve() == Path(file).resolve()
    except OSError:
        return []
    return list(sys.argv[1:]) if same else []


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def settings_of(namespace: dict) -> list[str]:
    """The UPPERCASE settings a script defines, in order: plain values (numbers, text, True/False,
    lists, tuples), not the constants it imports from the project's modules."""
    imported = {
        id(v)
        for name, mod in list(sys.modules.items())
        if name.split(".")[0] in ("common", "schnet_tutorial")
        for v in vars(mod).values()
    }
    simple = (int, float, str, bool, list, tuple)
    return [
        n
        for n, v in namespace.items()
        if n.isupper()
        and not n.startswith("_")
        and isinstance(v, simple)
        and not (id(v) in imported and not isinstance(v, (int, float, str, bool)))
    ]


def option(name: str) -> str:
    return "--" + name.lower().replace("_", "-")


def usage(namespace: dict, script: str) -> str:
    """--help: every setting with its value, what values it takes, and the comment it has at the top
    of the script (its unit)."""
    lines = [
        f"{script}: settings (edit them at the top of the script, or --name value here; a list as "
        "--name 10 20 40 or --name 10,20,40); --quick: reduced settings"
    ]
    comments = setting_comments(namespace.get("__file__"))
    for name in settings_of(namespace):
        rule = RULES.get(name)
        lines.append(f"  {option(name):26s} {namespace[name]!r}  ({describe(rule)})")
        if comments.get(name):
            lines.append(f"  {'':26s} {comments[name]}")
    return "\n".join(lines)


def setting_comments(file) -> dict[str, str]:
    """{name: the comment on its line} of a script's settings (none without the file: a notebook)."""
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, TypeError):
        return {}
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_, ]*) = .*?#\s*(.+)$", line)
        if match:
            for name in match.group(1).split(","):
                found[name.strip()] = match.group(2).strip()
    return found


def convert(text: str, rule: Rule | None, default):
    """Turn the command-line text into a value of the setting's type."""
    kind = rule.kind if rule else type(default)
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    if kind in (list, tuple):
        item = rule.item if rule else (type(default[0]) if default else str)
        parts = re.split(r"[,\s]+", text.strip().strip("[]()"))
        return kind(item(p.strip("'\"")) for p in parts if p.strip())
    return text


def apply_overrides(namespace: dict, argv: list[str], script: str) -> list[str]:
    """Set the settings named on the command line (``--name value`` or ``--name=value``)."""
    rules, names, changed = RULES, settings_of(namespace), []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or arg == "--":
            fail(f"unexpected argument {arg!r}; use --name value, e.g. --epochs 100 (--help lists them)")
        key, _, value = arg[2:].partition("=")
        name = key.replace("-", "_").upper()
        if name not in names:
            fail(f"unknown option {option(key)}; options are: " + ", ".join(option(n) for n in names))
        is_flag = (rules.get(name) or Rule(type(namespace[name]))).kind is bool
        if not _ and is_flag and (i + 1 >= len(argv) or argv[i + 1].startswith("--")):
            value = "true"  # a True/False setting alone: --force means --force true
        elif not _:
            if i + 1 >= len(argv):
                fail(f"option {arg} needs a value")
            i += 1
            value = argv[i]
            while is_list(rules.get(name)) and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                i += 1  # a list: --train-sizes 10 20 40
                value += "," + argv[i]
        try:
            namespace[name] = convert(value, rules.get(name), namespace[name])
        except ValueError:
            fail(f"{name} must be {describe(rules.get(name))}, got {value!r} ({option(name)})")
        changed.append(name)
        i += 1
    return changed


def is_list(rule: Rule | None) -> bool:
    return rule is not None and rule.kind in (list, tuple)


def describe(rule: Rule | None) -> str:
    if rule is None:
        return "a value of the default's type"
    return rule.says or {int: "an integer", float: "a number", bool: "True or False"}.get(rule.kind, "text")


def problem(value, rule: Rule) -> bool:
    """True when ``value`` does not follow ``rule``."""
    if rule.kind in (list, tuple):
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            return True
        if rule.length is not None and len(value) != rule.length:
            return True
        item = Rule(rule.item, rule.test)
        return any(problem(v, item) for v in value)
    if rule.kind is float:
        ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif rule.kind is int:
        ok_type = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok_type = isinstance(value, rule.kind)
    if not ok_type:
        return True
    return rule.test is not None and not rule.test(value)


def check_settings(namespace: dict, script: str) -> None:
    """One-line error for the first setting of the wrong type or out of range."""
    rules = RULES
    for name in settings_of(namespace):
        rule, value = rules.get(name), namespace[name]
        if rule is not None and problem(value, rule):
            fail(
                f"{name} must be {describe(rule)}, got {value!r}: change it at the top of the "
                f"script or with {option(name)}"
            )
    for names, test, message in RELATIONS:
        if all(n in namespace for n in names):
            values = [namespace[n] for n in names]
            check(test(*values), message.format(*values))


def check_writable(*folders) -> None:
    """Stop before any work when an output folder (or, if it does not exist yet, the folder it will
    be made in) cannot be written: read-only, a file in its place, or a full disk. Nothing is
    created. Without arguments: the figures folder, which every script writes."""
    import tempfile

    from .runs import FIGURES_DIR

    for folder in map(Path, folders or [FIGURES_DIR]):
        try:
            existing = next(p for p in (folder, *folder.parents) if p.exists())
            if not existing.is_dir():
                raise NotADirectoryError(0, "a file is in its place")
            with tempfile.TemporaryFile(dir=existing) as probe:
                probe.write(b"x" * 65536)
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as err:
            fail(
                f"cannot write into {folder} ({err.strerror or err}): make it a folder you can write, free "
                "some disk space, or set ML_TUTORIAL_OUTPUT to a folder you can write"
            )


def _limit_threads(n_threads: int) -> None:
    """PyTorch on ``n_threads`` CPU threads (OMP_NUM_THREADS, if set, wins)."""
    torch = sys.modules.get("torch")
    if torch is not None and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(n_threads)
