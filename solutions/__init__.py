"""Worked solutions to the lessons' exercises: one file per lesson, named as the lesson.

Each file has one cell per exercise, ``# %% Exercise N``, opening with comment lines:

    # Kind: predict, then run | read the figure | write code
    # Time: 10 min
    # Practises: what the exercise trains (a few words)
    # Checked by: tests/test_solutions_*.py | benchmarks/check_solutions.py
    # Change: the setting or the code the student changes
    # Answer: what comes out at the lesson's defaults (numbers with units, the date measured), and the
    #   part that holds on any machine (which way, which one wins)
    # Why: the explanation

then the code: a function ``exercise_N(out=None, quick=False)`` that does the exercise and returns its
numbers (a dict). Run a file to do all its exercises, or one: ``python solutions/lj_1_overfit.py 2``.
``run_lesson`` runs a lesson with changed settings and returns its ``result:`` line as a dict
(``run_script``: its printout, for a lesson without a result line).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def lesson_path(name: str) -> Path:
    """The lesson file ``name`` (``lj_1_overfit.py`` or ``script2_train_schnet.py``)."""
    for folder in (REPO_ROOT, REPO_ROOT / "schnet_tutorial"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"no lesson {name} in {REPO_ROOT} or its schnet_tutorial/")


def parse_result(text: str) -> dict:
    """The last ``result: name=value ...`` line of ``text`` as a dict (numbers as floats)."""
    lines = [line for line in text.splitlines() if line.startswith("result:")]
    if not lines:
        raise ValueError("the lesson printed no 'result:' line")
    fields = {}
    for name, value in re.findall(r"(\S+?)=(\S+)", lines[-1][len("result:") :]):
        try:
            fields[name] = float(value)
        except ValueError:
            fields[name] = value
    return fields


def run_script(name: str, *args, out=None, quick: bool = False, timeout: float = 3600) -> str:
    """Run lesson ``name`` with command-line settings ``args`` (``"--n-train", 20``) and return what it
    printed. ``out``: the output folder (ML_TUTORIAL_OUTPUT; None: the student's usual one); ``quick``:
    reduced settings. A failed run raises RuntimeError with its error."""
    env = dict(os.environ, MPLBACKEND="Agg")
    if out is not None:
        env["ML_TUTORIAL_OUTPUT"] = str(out)
    command = [sys.executable, str(lesson_path(name)), *map(str, args)] + (["--quick"] if quick else [])
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{name} {' '.join(map(str, args))} failed: {last[0]}")
    return proc.stdout


def run_lesson(name: str, *args, out=None, quick: bool = False, timeout: float = 3600) -> dict:
    """``run_script``, and the lesson's result line as a dict, plus ``"stdout"``."""
    stdout = run_script(name, *args, out=out, quick=quick, timeout=timeout)
    return {**parse_result(stdout), "stdout": stdout}


def main(namespace: dict, argv: list[str] | None = None) -> None:
    """Run the exercises of a solution file: all, or those numbered in ``argv`` (``2 3``)."""
    from common.settings import command_line, fail, quick_option, robust_printing

    robust_printing()
    argv = command_line(namespace) if argv is None else argv  # (none in a notebook: the kernel's)
    argv, quick = quick_option(argv)  # --quick, --quick=1 ...
    numbers = sorted(int(k.split("_")[1]) for k in namespace if re.fullmatch(r"exercise_\d+", k))
    words = [w for a in argv for w in a.split(",") if w]  # 2 3 or 2,3
    for word in words:
        if not word.isdigit():
            fail(f"unexpected argument {word!r}: give exercise numbers ({numbers}) and/or --quick")
    chosen = [int(w) for w in words] or numbers
    for n in chosen:
        if n not in numbers:
            raise SystemExit(f"error: no exercise {n} here; choose from {numbers}")
        print(f"--- exercise {n}", flush=True)
        answer = namespace[f"exercise_{n}"](quick=bool(quick))
        print({k: v for k, v in (answer or {}).items() if k != "stdout"}, flush=True)
