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

import os
import re
import sys
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
