"""check_solutions.py: the worked solutions whose claims hold only at a long lesson's defaults, measured.

The tests (tests/test_solutions_*.py) check what survives the reduced settings; this script runs the
exercises at the lessons' defaults and prints the numbers their Answers quote (quote them with the
date and machine). Trainings are cached per output folder, so a rerun into the same folder is fast.

    python benchmarks/check_solutions.py                       # all of them (script4-6: an hour on 2 cores)
    python benchmarks/check_solutions.py script2 script3       # only these lessons
    python benchmarks/check_solutions.py script5:1,3 --out DIR # exercises 1 and 3 of script5, into DIR

The output folder (``--out``, default results/check_solutions under ML_TUTORIAL_OUTPUT or the
repository) holds the lessons' database, models and results; it is the students' folder layout.
"""

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# lesson (the solution file's name): the exercises checked here (the others are checked by the tests)
CHECKS = {
    "script2_train_schnet": [1, 2],
    "script3_run_md": [1, 2, 3, 4],
    "script4_learning_curve": [1, 2, 3],
    "script5_uncertainty": [1, 2, 3],
    "script6_active_learning": [1, 2, 3],
    "script7_vibrations": [1, 2],
    "script8_foundation_model": [2],
}


def chosen(args: list[str]) -> dict:
    """{lesson: [exercise numbers]} from arguments like ``script5`` or ``script5:1,3`` (none: all)."""
    if not args:
        return CHECKS
    picked = {}
    for arg in args:
        name, _, numbers = arg.partition(":")
        lesson = next((k for k in CHECKS if k.startswith(name)), None)
        if lesson is None:
            raise SystemExit(f"error: no lesson {name!r} here; choose from {', '.join(CHECKS)}")
        picked[lesson] = [int(n) for n in numbers.split(",")] if numbers else CHECKS[lesson]
    return picked


def shown(value):
    return f"{value:.4g}" if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="script2, script5:1,3, ... (default: all)")
    parser.add_argument("--out", help="output folder (default: results/check_solutions)")
    args = parser.parse_args()
    picked = chosen(args.lessons)
    base = Path(os.environ.get("ML_TUTORIAL_OUTPUT") or REPO_ROOT)
    out = Path(args.out) if args.out else base / "results" / "check_solutions"
    out.mkdir(parents=True, exist_ok=True)
    os.environ["ML_TUTORIAL_OUTPUT"] = str(out)  # before the solutions import common.runs
    print(f"{datetime.date.today()} on {platform.node()} ({os.cpu_count()} CPUs), output {out}", flush=True)
    t_all = time.perf_counter()
    for lesson, numbers in picked.items():
        module = importlib.import_module(f"solutions.{lesson}")
        for n in numbers:
            t0 = time.perf_counter()
            answer = getattr(module, f"exercise_{n}")(out=out)
            numbers_only = {k: shown(v) for k, v in (answer or {}).items() if k != "stdout"}
            print(f"{lesson} exercise {n} ({time.perf_counter() - t0:.0f} s): {numbers_only}", flush=True)
    print(f"all done in {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
