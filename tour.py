"""The tutorial tour: run the numbered scripts in order at their default settings, headless.

    python tour.py            # the slides' lessons: lj_1 ... lj_7, then schnet_tutorial/script1 ... script3
    python tour.py all        # also the lessons beyond the slides: schnet_tutorial/script4 ... script7
                              # (learning curves, committee uncertainty, active learning, vibrations)
    python tour.py lj_2 lj_3  # only the scripts whose names contain one of these words

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

from common.runs import FIGURES_DIR, REPO_ROOT

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


def main(argv: list[str]) -> int:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    todo = scripts(argv)
    if not todo:
        print(f"error: no script matches {' '.join(argv)}", file=sys.stderr)
        return 2
    start, failed = time.perf_counter(), []
    for path in todo:
        name = path.relative_to(REPO_ROOT).as_posix()
        print(f"--- {name}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(path)],
            cwd=path.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        dt = time.perf_counter() - t0
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        (FIGURES_DIR / f"{path.stem}.log").write_text(proc.stdout)
        status = "OK" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        if proc.returncode:
            failed.append(name)
            print("\n".join(lines[-15:]))
        last = lines[-1] if lines else ""
        print(f"{name:42s} {status:8s} {dt:6.1f} s  | {last[:110]}", flush=True)
    total = time.perf_counter() - start
    print(
        f"tour: {len(todo) - len(failed)}/{len(todo)} scripts OK in {total:.1f} s; "
        f"figures and logs in {FIGURES_DIR}"
    )
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
