"""A training on several devices (script2 with DEVICES or NUM_NODES > 1) runs the whole script once per
process: only the first process (rank 0) prints (every other test sees it print); the others say nothing:
their output would repeat the first one's, or be wrong about the files only the first one writes ("model
file not found")."""

import os
import subprocess
import sys

from conftest import ROOT


def test_a_second_process_prints_nothing():
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")}
    res = subprocess.run(
        [sys.executable, "-c", "import schnet_tutorial.helpers.quiet; print('spoken')"],
        cwd=ROOT,
        env=dict(env, LOCAL_RANK="1"),  # as Lightning's launcher sets it for its second process
        capture_output=True,
        text=True,
        timeout=600,  # against a hang only
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout == "", res.stdout
