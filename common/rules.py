"""What each setting may be (RULES, one rule per name), relations between settings, and each
script's reduced settings (QUICK): the tables common/settings.py checks a script's settings against.

A setting name means the same thing in every script; a new setting needs a rule here (a test checks
that every script's settings have one, and that every rule belongs to a setting some script has).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
MODELS = ("schnet", "painn", "so3net")  # the SchNetPack representations the lessons train
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
    # SchNet: the foundation model (script8): which weights of SO3LR fine-tuning changes, and for how long
    "FINETUNE": choice_list("naive", "all", "last_layer", "lora"), "FINETUNE_STEPS": INT_1,
    **named(NON_NEGATIVE, "TIME_BUDGET_S ENERGY_WEIGHT FORCE_WEIGHT FRICTION_PER_FS"),
    "LR_SCHEDULE": choice("cosine", "constant"),
    "LR_FINAL": _number(float, 0, 1, low_open=True, says="a number in (0, 1]"),
    "EMA_DECAY": _number(float, 0, 1, high_open=True, says="a number in [0, 1): 0 = none, 0.99 typical"),
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
    (("EMA_DECAY", "VAL_EVERY"), lambda a, v: a == 0 or v == 1,  # SchNetPack 2.2's callback restores the
     # weights of the last validation at every epoch's start: with VAL_EVERY > 1 training would go back
     "EMA_DECAY ({}) needs VAL_EVERY = 1 (got {}): SchNetPack's average of the weights is kept only "
     "when every epoch is validated",),
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
    # script4: a SchNet curve of 2 sizes and the 5 short rungs on the larger one, seconds each
    "script4_learning_curve": {"MODELS": ["schnet"], "TRAIN_SIZES": [10, 100], "SETS_PER_SIZE": [2, 1],
                               "STEPS": 150, "N_VAL": 20, "N_TEST": 50, "N_LADDER": 100},
    "script7_vibrations": {"MD_STEPS": 1000, "CORRELATION_FS": 200.0},
    # script8: fine-tuning on 10 frames for 4 steps, a SchNet of 20 steps, 20 MD steps
    "script8_foundation_model": {"TRAIN_SIZES": [10], "N_TRAIN": 10, "FINETUNE_STEPS": 4, "MODEL": "schnet",
                                 "STEPS": 20, "N_VAL": 20, "N_TEST": 50, "MD_STEPS": 20},
    # script5: a committee of 2 small trainings, 100 MD steps; script6: one round of active learning
    "script5_uncertainty": {"COMMITTEE": 2, "N_TRAIN": 200, "STEPS": 150, "N_TEST": 200, "N_VAL": 50,
                            "MD_STEPS": 100},
    "script6_active_learning": {"COMMITTEE": 2, "STEPS": 100, "N_TEST": 200, "N_VAL": 50, "AL_START": 20,
                                "AL_BATCH": 20, "AL_ROUNDS": 1, "N_SEEDS": 1, "MD_STEPS": 100},
}
# fmt: on
