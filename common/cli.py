"""Command-line overrides of a script's constants, and one-line errors for bad values.

Every lj script keeps its hyperparameters as UPPERCASE constants at the top. Running
    python lj_3_hyperparameters.py --learning-rate 0.01 --activation relu
replaces LEARNING_RATE and ACTIVATION before anything else runs (the value is converted to the
type of the default). ``--quick`` applies the script's QUICK dict: small settings for tests.
In Spyder's runfile (no arguments) nothing changes.
"""

from __future__ import annotations

import sys


class HyperparameterError(ValueError):
    """A bad hyperparameter value: reported as one line."""


def fail(message: str, code: int = 2):
    """Print 'error: message' on stderr and exit with a non-zero code, without a traceback."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _convert(text: str, default):
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, (list, tuple)):
        items = [s for s in text.split(",") if s]
        kind = type(default[0]) if default else str
        return type(default)(kind(s) for s in items)
    return text


def apply_overrides(namespace: dict, argv=None, quick: dict | None = None) -> list[str]:
    """Update the UPPERCASE names of ``namespace`` (a script's globals()) from ``argv``.

    Returns the names that changed. Unknown options or unconvertible values end the run with a
    one-line error.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    changed = []
    if "--quick" in argv:
        argv.remove("--quick")
        for name, value in (quick or {}).items():
            namespace[name] = value
            changed.append(name)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            fail(f"unexpected argument {arg!r}; use --name value, e.g. --epochs 100")
        key = arg[2:]
        value = None
        if "=" in key:
            key, value = key.split("=", 1)
        name = key.replace("-", "_").upper()
        if name not in namespace or not name.isupper():
            options = ", ".join(f"--{n.lower().replace('_', '-')}" for n in namespace
                                if n.isupper() and not n.startswith("_") and n != "QUICK")
            fail(f"unknown option {arg!r}; options are: {options}")
        if value is None:
            if i + 1 >= len(argv):
                fail(f"option {arg} needs a value")
            value = argv[i + 1]
            i += 1
        try:
            namespace[name] = _convert(value, namespace[name])
        except ValueError:
            kind = {bool: "true or false", int: "an integer", float: "a number"}.get(
                type(namespace[name]), "a comma-separated list")
            fail(f"{name} must be {kind}, got {value!r}")
        changed.append(name)
        i += 1
    return changed


def check(condition: bool, message: str) -> None:
    """Stop with a one-line error when a hyperparameter is out of range."""
    if not condition:
        fail(message)


def check_choice(name: str, value, choices) -> None:
    check(value in choices, f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


POSITIVE_INTS = ("N_POINTS", "N_BASIS", "WIDTH", "DEPTH", "BATCH_SIZE", "EPOCHS", "PATIENCE", "N_SEEDS")
NON_NEGATIVE = ("NOISE", "WEIGHT_DECAY")


def check_standard(namespace: dict) -> None:
    """The checks every lj script shares, applied to the constants the script has."""
    from .choices import ACTIVATION_NAMES, OPTIMIZER_NAMES   # no torch: errors come at once

    for name in POSITIVE_INTS:
        if name in namespace:
            check(namespace[name] >= 1, f"{name} must be >= 1, got {namespace[name]}")
    for name in NON_NEGATIVE:
        if name in namespace:
            check(namespace[name] >= 0, f"{name} must be >= 0, got {namespace[name]}")
    if "LEARNING_RATE" in namespace:
        lr = namespace["LEARNING_RATE"]
        check(lr > 0, f"LEARNING_RATE must be > 0, got {lr}")
    if "MOMENTUM" in namespace:
        check(0 <= namespace["MOMENTUM"] < 1, f"MOMENTUM must be in [0, 1), got {namespace['MOMENTUM']}")
    if "R_MIN" in namespace and "R_MAX" in namespace:
        check(0 < namespace["R_MIN"] < namespace["R_MAX"],
              f"need 0 < R_MIN < R_MAX (sigma), got {namespace['R_MIN']}, {namespace['R_MAX']}")
    if "ACTIVATION" in namespace:
        check_choice("ACTIVATION", namespace["ACTIVATION"], sorted(ACTIVATION_NAMES))
    if "OPTIMIZER" in namespace:
        check_choice("OPTIMIZER", namespace["OPTIMIZER"], OPTIMIZER_NAMES)
