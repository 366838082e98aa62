"""How long each Lennard-Jones lesson takes at its default settings (target: lj_1-lj_3 under 15 s,
lj_4-lj_7 under 60 s on a 2-core laptop), start-up included, as a student runs it.

    python benchmarks/bench_lj_scripts.py            # every lj script, once
    python benchmarks/bench_lj_scripts.py lj_1 lj_4  # only these

Outputs go to a temporary folder (ML_TUTORIAL_OUTPUT), never into the project's figures/ or runs/.
Prints the machine-speed reference first (benchmarks/machine_speed.py), then one line per script
with its time and its `result:` line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from common.runs import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import machine_speed  # noqa: E402

TARGET_S = {"lj_1": 15, "lj_2": 15, "lj_3": 15, "lj_4": 60, "lj_5": 60, "lj_6": 60, "lj_7": 60}


def main(filters: list[str]) -> None:
    print(machine_speed.describe())
    scripts = sorted(REPO_ROOT.glob("lj_[0-9]*.py"))
    scripts = [s for s in scripts if not filters or any(f in s.name for f in filters)]
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, MPLBACKEND="Agg", ML_TUTORIAL_OUTPUT=out)
        for script in scripts:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
            dt = time.perf_counter() - t0
            result = next(
                (ln for ln in proc.stdout.splitlines() if ln.startswith("result:")), proc.stderr[-200:]
            )
            target = TARGET_S[script.name[:4]]
            verdict = (
                "ok"
                if proc.returncode == 0 and dt <= target
                else "OVER"
                if proc.returncode == 0
                else "FAILED"
            )
            print(f"{script.name:34s} {dt:6.1f} s (target {target} s, {verdict})  {result}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
