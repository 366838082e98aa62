"""TensorBoard after the tour: lj_3 (twice), lj_7 and a SchNet training write into one runs/ folder;
`tensorboard --logdir=runs` (also with --reload_multifile True, as on the slide) shows every run in
its HParams table with its own settings and final metrics, under readable names, with no sub-runs:
one column per setting, named as at the tops of the scripts; trial ids that differ in their first 20
characters; metrics named with their units; the loss curves as the first group of SCALARS. HPARAMS
shows (ticks) the first five settings and metrics: these are the settings a student compares
(LEARNING_RATE, WIDTH, DEPTH, ACTIVATION, L2) and the best epoch's errors; the hardware has no column;
lj_7's trials log every setting they use (ACTIVATION, DESCRIPTOR, OPTIMIZER too)."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from common.runs import BEST, COMPARED, LOSS_TAGS, NOT_IN_TABLE, TABLE_METRICS, TABLE_SETTINGS
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
        deadline, groups = time.time() + 900, []  # only against a hang: it breaks as soon as all are there
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
        # what HPARAMS shows first: TensorBoard sorts the setting columns by name, "differing" ones
        # first, and ticks the first five settings and the first five metrics (its frontend does so,
        # tf-hparams-query-pane); the project's table definition makes these the settings a student
        # compares and the best epoch's errors, and gives every script's settings a column
        experiment = get(
            f"{base}/data/plugin/hparams/experiment", {"experimentName": "", "hparamsLimit": 1000}
        )
        order = [h["name"] for h in sorted(experiment["hparamInfos"], key=lambda h: not h.get("differs"))]
        assert set(COMPARED) == {"LEARNING_RATE", "WIDTH", "DEPTH", "ACTIVATION", "L2"}
        assert order[:5] == sorted(COMPARED), order  # these five shown, and only these
        assert set(order) == set(TABLE_SETTINGS) and columns <= set(order), sorted(columns - set(order))
        assert not set(order) & set(NOT_IN_TABLE) and not columns & set(NOT_IN_TABLE), sorted(columns)
        shown = [m["name"]["tag"] for m in experiment["metricInfos"]][:5]
        assert shown[:2] == [f"{BEST}validation_MSE_eps2", f"{BEST}test_MSE_eps2"], shown
        assert not set(shown) & set(LOSS_TAGS.values()), shown  # the last epoch's losses: after these
        assert metrics <= set(TABLE_METRICS), sorted(metrics - set(TABLE_METRICS))
        # every script logs every setting it uses, under the names at the top of lj_3 and script2
        lj3_settings = top_settings("lj_3_hyperparameters.py") - set(NOT_IN_TABLE)
        # lj_7's choices, the same in every trial (its trials take lj_3's names; adam has no MOMENTUM)
        fixed = {"ACTIVATION": "gelu", "DESCRIPTOR": "gaussian", "OPTIMIZER": "adam"}
        for group in (g for g in groups if g["name"] in lj7):
            assert set(group["hparams"]) == lj3_settings - {"MOMENTUM"} | {"search", "stage"}, group
            assert fixed.items() <= group["hparams"].items(), group
        assert all(set(g["hparams"]) == lj3_settings for g in groups if g["name"] in lj3)
        # script2's settings (N_FILTERS is SchNet's alone: a PaiNN run leaves it out)
        schnet_settings = top_settings(SCHNET_TRAINING) - set(NOT_IN_TABLE) - {"N_FILTERS"}
        assert all(set(g["hparams"]) == schnet_settings for g in groups if g["name"] in schnet)
        # the first metric is the best epoch's: the lowest validation MSE of the run's curve
        for name in lj3 + lj7:
            values = next(g for g in groups if g["name"] == name)["metricValues"]
            lowest = next(m["value"] for m in values if m["name"]["tag"] == f"{BEST}validation_MSE_eps2")
            query = urllib.parse.urlencode({"run": name, "tag": LOSS_TAGS["validation"]})
            curve = get(f"{base}/data/plugin/scalars/scalars?{query}")
            assert lowest == pytest.approx(min(10**v for _, _, v in curve), rel=1e-4), name
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


def readme_tags():
    """The TensorBoard tags the README's TensorBoard section names (`1_loss/train`, `lr_schedule`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### TensorBoard", 1)[1].split("\n#", 1)[0]
    quoted = re.findall(r"`([^`\s]+)`", section)
    return {q for q in quoted if re.fullmatch(r"\w+(/\w+)+", q) or re.fullmatch(r"lr[-_]\w+", q)}


def test_every_tag_the_readme_names_is_in_the_runs(tour_runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = set()
    for events in tour_runs.rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 1, "images": 1})
        accumulator.Reload()
        logged |= {tag for kind in ("scalars", "images") for tag in accumulator.Tags()[kind]}
    named = readme_tags()
    assert {"lr_schedule", "1_loss/train", "2_validation_MAE/energy_eV"} <= named, named  # the parser works
    missing = sorted(named - logged)
    assert not missing, f"the README names tags that no run logged: {missing}; logged: {sorted(logged)}"
