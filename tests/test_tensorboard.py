"""TensorBoard after the tour: lj_3 (twice), lj_7 and a SchNet training write into one runs/ folder;
`tensorboard --logdir=runs` (also with --reload_multifile True, as on the slide) shows every run in
its HParams table with its own settings and final metrics, under readable names, with no sub-runs."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, run_script


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def tour_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    env = {"ML_TUTORIAL_OUTPUT": str(out)}
    for script, args in [
        ("lj_3_hyperparameters.py", ["--activation", "gelu"]),
        ("lj_3_hyperparameters.py", ["--activation", "relu", "--learning-rate", "0.003"]),
        ("lj_7_hyperparameter_search.py", []),
        ("schnet_tutorial/script1_prepare_data.py", []),
        ("schnet_tutorial/script2_train_schnet.py", []),
    ]:
        res = run_script(ROOT / script, "--quick", *args, env=env, timeout=600)
        assert res.returncode == 0, (script, res.stderr[-2000:])
    return out / "runs"


def session_groups(base):
    body = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [],
        "startIndex": 0,
        "sliceSize": 1000,
    }
    return get(f"{base}/data/plugin/hparams/session_groups", body)["sessionGroups"]


@pytest.mark.parametrize("extra", [[], ["--reload_multifile", "True"]], ids=["plain", "reload_multifile"])
def test_hparams_table_shows_every_run_with_its_settings_and_metrics(tour_runs, extra):
    sessions = [p for p in tour_runs.rglob("*") if p.is_dir() and list(p.glob("events.out.tfevents.*"))]
    port = free_port()
    tb = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(tour_runs),
            *extra,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline, groups = time.time() + 120, []
        while time.time() < deadline:
            try:
                groups = session_groups(base)
                if len(groups) >= len(sessions):
                    break
            except OSError:
                pass
            time.sleep(2)
        runs = get(f"{base}/data/runs")
        names = {g["name"] for g in groups}
        lj3 = [n for n in names if n.startswith("lj3_")]
        lj7 = [n for n in names if n.startswith("lj7_")]
        schnet = [n for n in names if not n.startswith(("lj3_", "lj7_"))]
        assert len(lj3) == 2 and len(lj7) == 6 and len(schnet) >= 1, names
        for group in groups:  # every session: its settings and at least one metric value
            assert group["hparams"], group["name"]
            values = [m["value"] for m in group["metricValues"] if m.get("value") is not None]
            assert values, group["name"]
        lj3_relu = next(g for g in groups if g["name"] in lj3 and g["hparams"].get("activation") == "relu")
        assert lj3_relu["hparams"]["lr"] == pytest.approx(0.003)
        assert {"final/train_mse", "final/validation_mse", "final/test_mse"} <= {
            m["name"]["tag"] for m in lj3_relu["metricValues"]
        }
        # one run per training: no sub-runs such as "loss (MSE)_train"; names short enough to read
        assert len(runs) == len(sessions), runs
        assert all(len(r) <= 60 for r in runs), runs
    finally:
        tb.terminate()
        try:
            tb.wait(10)
        except subprocess.TimeoutExpired:
            tb.kill()
