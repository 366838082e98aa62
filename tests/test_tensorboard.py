"""TensorBoard, started as the slide says, serves the runs that lj_3 writes."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from conftest import ROOT, run_script


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, data=None):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_tensorboard_serves_lj3_runs_scalars_and_hparams(tmp_path):
    runs = tmp_path / "runs"
    for act in ("gelu", "relu"):
        res = run_script(ROOT / "lj_3_hyperparameters.py", "--quick", "--activation", act,
                         "--runs-dir", runs)
        assert res.returncode == 0, res.stderr[-2000:]
    port = free_port()
    tb = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(runs),
                           "--host", "127.0.0.1", "--port", str(port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline, run_names = time.time() + 90, []
        while time.time() < deadline:
            try:
                run_names = get(f"{base}/data/runs")
                if len([r for r in run_names if "gelu" in r or "relu" in r]) >= 2:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert any("act=gelu" in r for r in run_names) and any("act=relu" in r for r in run_names)
        tags = get(f"{base}/data/plugin/scalars/tags")
        all_tags = {t for run in tags.values() for t in run}
        assert any(t.startswith("loss (MSE)") for t in all_tags), all_tags
        assert "hparam/test_mse" in all_tags
        exp = get(f"{base}/data/plugin/hparams/experiment",
                  data=json.dumps({"experimentName": ""}).encode())
        hp_names = {h["name"] for h in exp["hparamInfos"]}
        assert {"activation", "lr", "width", "descriptor"} <= hp_names
        metric_tags = {m["name"]["tag"] for m in exp["metricInfos"]}
        assert {"hparam/train_mse", "hparam/validation_mse", "hparam/test_mse"} <= metric_tags
    finally:
        tb.terminate()
        try:
            tb.wait(10)
        except subprocess.TimeoutExpired:
            tb.kill()
