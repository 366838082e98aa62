"""The settings at the top of every script: checked, and changed from the command line.

Every script keeps its settings as UPPERCASE constants at the top (its settings block, after the
``# %% Settings`` line: only these are settings, never a name it imports), followed by one line:

    setup(globals(), "lj_3_hyperparameters")

which, in this order,
  1. applies the script's reduced settings from ``QUICK`` when asked for (``--quick`` or ``--quick=1``
     on the command line, or the environment variable ``ML_TUTORIAL_QUICK=1``: the tests and the docs
     use these);
  2. applies command-line overrides (``--learning-rate 0.01`` or ``--learning-rate=0.01``), but only
     when the script runs as a program (``python x.py``, Spyder's Run file, ``%run x.py --epochs 10``).
     In a Jupyter or VS Code kernel ``sys.argv`` belongs to the kernel and is left alone;
  3. checks the type and range of every setting against ``RULES`` and stops with a one-line
     ``error: ...`` (exit code 2) when one is wrong, e.g. ``EPOCHS = 40.0`` or ``LEARNING_RATE = "1e-3"``;
  4. runs PyTorch on ``N_THREADS`` CPU threads (1 when a script has no such setting: the lessons'
     networks are so small that a second thread only adds waiting).

Printing never fails on "Å" in a pure-ASCII terminal (``robust_printing``), and messages name only
the running script's own settings (``own``, ``say_number``). This module does not import PyTorch, so
a bad value is reported at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .command_line import (  # noqa: F401  (re-exported: the tests and the docs use them)
    _truthy,
    apply_overrides,
    command_line,
    describe,
    option,
    quick_option,
    settings_block,
    settings_of,
    usage,
)
from .errors import SettingError, check, fail, first_line, warn  # noqa: F401  (re-exported)
from .rules import (  # noqa: F401  (the tables, re-exported for the scripts and tests)
    ACTIVATIONS,
    MODELS,
    OPTIMIZERS,
    QUICK,
    RELATIONS,
    RULES,
    Rule,
)

_QUICK_RUN = False  # set by setup: this run uses the reduced settings
_SETTINGS: dict = {}  # set by setup: the running script's settings, checked


# ---------------------------------------------------------------------------------------------
# The one line of set-up
# ---------------------------------------------------------------------------------------------
def setup(namespace: dict, script: str) -> None:
    """Quick settings, command-line overrides, checks and threads for a script's ``globals()``."""
    robust_printing()
    argv = command_line(namespace)
    argv, asked = quick_option(argv)
    quick = asked if asked is not None else _truthy(os.environ.get("ML_TUTORIAL_QUICK", ""))
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


def robust_printing() -> None:
    """Printing never crashes on a character the terminal cannot show ("Å" in a pure-ASCII locale,
    LANG=C or PYTHONIOENCODING=ascii): such characters come out as escapes (\\xc5) instead."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if encoding not in ("utf8", "utf16", "utf32", "") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # (a stream that cannot be reconfigured: left as it is)
                pass


def _missing_setting_hook(kind, exc, tb):
    """One line, not a traceback, for a setting's line deleted from the top of a script and for
    Ctrl-C (what a script saved before it stays: every run writes a new folder or file)."""
    if issubclass(kind, KeyboardInterrupt):
        message = "interrupted (Ctrl-C); what was saved before stays; run the script again"
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(130)
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


def own(name: str, words: str) -> str:
    """A setting in a message: ``name`` when the running script has that setting, else ``words``
    (a script without it, or a helper's process): messages name only settings the student can change."""
    return name if name in _SETTINGS else words


def say_number(value, words: str, *names: str) -> tuple[str, str]:
    """A number in a message, in the running script's own terms, and the setting it comes from:
    ("N_VAL = 200", "N_VAL") when the script has a setting of that name and value; ("5000 training
    frames (TRAIN_SIZES)", "TRAIN_SIZES") when a list setting holds it; else ("1800 training frames",
    ""): a number the script computed, which the student never set, is never given a setting's name."""
    for name in names:
        have = _SETTINGS.get(name)
        if isinstance(have, (list, tuple)) and value in have:
            return f"{value} {words} ({name})", name
        if have is not None and not isinstance(have, bool) and have == value:
            return f"{name} = {value}", name
    return f"{value} {words}", ""


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
