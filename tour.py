"""The tutorial tour: run the numbered scripts in order at their default settings, headless.

    python tour.py            # the slides' lessons: lj_1 ... lj_7, then schnet_tutorial/script1 ... script3
    python tour.py all        # also the lessons beyond the slides: schnet_tutorial/script4 ... script8
                              # (learning curves, committee uncertainty, active learning, vibrations,
                              # the foundation model: skipped, with its install line, without
                              # pip install -r requirements-foundation.txt)
    python tour.py lj_2 lj_3  # only the scripts whose names contain one of these words (or lj_2,lj_3)
    python tour.py --quick    # every script with its reduced settings (seconds each; the tests' settings)

Each script's output goes to figures/<script>.log beside its figures; one summary line per script
(its `result:` line when it prints one), then the total time. Exits non-zero if a script failed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from common.errors import OPTIONAL_MISSING  # a lesson that needs an optional install (script8)
from common.runs import FIGURES_DIR, REPO_ROOT
from common.settings import quick_option, robust_printing

SLIDES = ("lj_", "script1_", "script2_", "script3_")  # the default tour: the lessons of the slides


def numbered(folder: Path, pattern: str) -> list[Path]:
    found = [p for p in folder.glob(pattern) if re.search(r"\d", p.name)]
    return sorted(found, key=lambda p: int(re.search(r"(\d+)", p.name).group(1)))


def scripts(filters: list[str]) -> list[Path]:
    found = numbered(REPO_ROOT, "lj_[0-9]*.py") + numbered(REPO_ROOT / "schnet_tutorial", "script[0-9]*.py")
    if not filters:
        return [p for p in found if p.name.startswith(SLIDES)]
    if filters == ["all"]:
        return found
    return [p for p in found if any(f in p.name for f in filters)]


def options(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the names of the scripts to run, the options passed to each): the tour's arguments are names
    (separated by spaces or commas) and --quick; anything else stops with one line."""
    argv, quick = quick_option(argv)
    if "--help" in argv or "-h" in argv:
        print(__doc__.strip())
        raise SystemExit(0)
    for arg in argv:
        if arg.startswith("-"):
            print(
                f"error: unknown option {arg}; the tour takes script names and --quick (reduced "
                "settings), e.g. python tour.py lj_1 lj_2 --quick; a script's own settings are set "
                "when it runs alone (python lj_1_overfit.py --help lists them)",
                file=sys.stderr,
            )
            raise SystemExit(2)
    names = [name.strip() for arg in argv for name in arg.split(",") if name.strip()]
    names = [Path(name).name.removesuffix(".py").lower() for name in names]  # also a path, or LJ_1
    every = scripts(["all"])
    for name in names:
        if name != "all" and not scripts([name]):
            print(
                f"error: no script matches {name!r}; name them as lj_1 lj_2 (or lj_1,lj_2), or all; "
                "the scripts: " + " ".join(p.stem for p in every),
                file=sys.stderr,
            )
            raise SystemExit(2)
    return names, ["--quick"] if quick else []


def main(argv: list[str]) -> int:
    robust_printing()
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    names, passed = options(argv)
    todo = scripts(["all"] if "all" in names else names)
    if passed:
        print("reduced settings (--quick): each script runs with its reduced settings, not those at its top")
    start, failed, skipped = time.perf_counter(), [], []
    for path in todo:
        name = path.relative_to(REPO_ROOT).as_posix()
        print(f"--- {name}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(path), *passed],
            cwd=path.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
            errors="replace",
        )
        dt = time.perf_counter() - t0
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        (FIGURES_DIR / f"{path.stem}.log").write_text(proc.stdout, encoding="utf-8")
        status = "OK" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        if proc.returncode == OPTIONAL_MISSING:  # not a failure: its one line says what to install
            status = "SKIPPED"
            skipped.append(name)
            print(lines[-1] if lines else "", flush=True)
        elif proc.returncode:
            failed.append(name)
            print("\n".join(lines[-15:]))
        last = lines[-1] if lines else ""
        print(f"{name:42s} {status:8s} {dt:6.1f} s  | {last[:110]}", flush=True)
    total = time.perf_counter() - start
    print(
        f"tour: {len(todo) - len(failed) - len(skipped)}/{len(todo)} scripts OK"
        + (f" ({len(skipped)} skipped: an optional install)" if skipped else "")
        + f" in {total:.1f} s; "
        f"figures and logs in {FIGURES_DIR}"
    )
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
