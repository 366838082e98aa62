"""TensorBoard after the tour: lj_3 (twice), lj_7 and a SchNet training write into one runs/ folder;
`tensorboard --logdir=runs` (also with --reload_multifile True, as on the slide) shows every run in
its HParams table with its own settings and final metrics, under readable names, with no sub-runs:
one column per setting, named as at the tops of the scripts; trial ids that differ in their first 20
characters; metrics named with their units; the loss curves as the first group of SCALARS."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, run_script

SCHNET_TRAINING = "schnet_tutorial/script2_train_schnet.py"


LJ7 = "lj_7_hyperparameter_search.py"


def top_settings(script):
    """The setting names at the top of a script (the lines NAME = ... or A, B = ... before setup)."""
    head = (ROOT / script).read_text().split("setup(globals()")[0]
    found = re.findall(r"^([A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)*) = ", head, re.M)
    return {name for names in found for name in names.split(", ")}


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
        (LJ7, []),
        ("schnet_tutorial/script1_prepare_data.py", []),
        (SCHNET_TRAINING, []),
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
        lj3 = [n for n in names if n.endswith("_lj3")]
        lj7 = [n for n in names if "_lj7_" in n]
        schnet = [n for n in names if n not in lj3 + lj7]
        assert len(lj3) == 2 and len(lj7) == 6 and len(schnet) >= 1, names
        for group in groups:  # every session: its settings and at least one metric value
            assert group["hparams"], group["name"]
            values = [m["value"] for m in group["metricValues"] if m.get("value") is not None]
            assert values, group["name"]
        # trial ids: TensorBoard's table shows about 20 characters of each, so they differ there
        assert len({n[:20] for n in names}) == len(names), sorted(names)
        # one vocabulary: the columns are the settings as named at the tops of the scripts (one column
        # per setting, whichever script), plus lj_7's two trial labels; no lower-case duplicates
        columns = {name for g in groups for name in g["hparams"]}
        tops = set().union(*(top_settings(s) for s in ("lj_3_hyperparameters.py", LJ7, SCHNET_TRAINING)))
        assert columns - {"search", "stage"} <= tops, sorted(columns - tops)
        assert {
            "LEARNING_RATE",
            "WIDTH",
            "DEPTH",
            "L2",
            "EPOCHS",
            "BATCH_SIZE",
            "SEED",
            "ACTIVATION",
        } <= columns
        assert not {c for c in columns if c.upper() in columns and c != c.upper()}, sorted(columns)
        lj3_relu = next(g for g in groups if g["name"] in lj3 and g["hparams"].get("ACTIVATION") == "relu")
        assert lj3_relu["hparams"]["LEARNING_RATE"] == pytest.approx(0.003)
        lj7_widths = {g["hparams"]["WIDTH"] for g in groups if g["name"] in lj7}
        assert len(lj7_widths) >= 2  # the trial's own width, in the same column as lj_3's
        # metrics carry their units; lj_3 and lj_7 say that they are the restored best epoch's
        metrics = {m["name"]["tag"] for g in groups for m in g["metricValues"]}
        lj_metrics = {m["name"]["tag"] for g in groups if g["name"] in lj3 + lj7 for m in g["metricValues"]}
        best = {f"best_epoch/{s}_MSE_eps2" for s in ("train", "validation", "test")} | {"best_epoch/epoch"}
        curves = {"1_loss/log10_train_MSE_eps2", "1_loss/log10_validation_MSE_eps2"}  # their last epoch
        assert best <= lj_metrics <= best | curves, lj_metrics
        assert {"test/energy_MAE_kcal_per_mol", "test/force_MAE_kcal_per_mol_A"} <= metrics
        # the loss curves: the first group of SCALARS (tag groups sort alphabetically), with units
        tags = get(f"{base}/data/plugin/scalars/tags")
        lj_tags = {t for run, by_tag in tags.items() if run in lj3 + lj7 for t in by_tag}
        assert curves <= lj_tags <= best | curves, lj_tags
        all_tags = {t for by_tag in tags.values() for t in by_tag}
        assert min(t.split("/")[0] for t in all_tags) == "1_loss", sorted(all_tags)
        # one run per training: no sub-runs such as "loss (MSE)_train"; names short enough to read
        assert len(runs) == len(sessions), runs
        assert all(len(r) <= 60 for r in runs), runs
    finally:
        tb.terminate()
        try:
            tb.wait(10)
        except subprocess.TimeoutExpired:
            tb.kill()
