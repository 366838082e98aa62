"""Nothing silently wrong (issue 21), with real runs of the SchNet scripts at reduced settings: a model
that learned nothing, a rebuilt or missing database, a broken model file, a lock held by another
script1, a deleted setting line, the reduced settings said aloud; and the command line's lists and
--help."""

import json
import os
import shutil

import pytest
from ase.io import write

from common import settings
from conftest import ROOT, output_with_database, run_script

from schnet_tutorial.helpers import dataset  # isort: skip (first: it quiets SchNetPack's import)

TUT = ROOT / "schnet_tutorial"
SCRIPT1, SCRIPT2, SCRIPT3 = (
    TUT / f"script{k}" for k in ("1_prepare_data.py", "2_train_schnet.py", "3_run_md.py")
)


def errors(stderr):
    return [line for line in stderr.strip().splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An output folder with script1's database and one quick script2 model."""
    out, env = output_with_database(tmp_path_factory, "safety")
    res = run_script(SCRIPT2, "--quick", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("reduced settings (--quick")  # said in the first line
    (info,) = (out / "schnet_tutorial" / "models").glob("*/model_info.json")
    return out, env, info.parent


def test_quick_model_is_marked_and_the_next_script_says_so(trained):
    out, env, model = trained
    info = json.loads((model / "model_info.json").read_text())
    assert info["quick"] is True and info["learned"] is True and info["database_fingerprint"]
    res = run_script(SCRIPT3, "--quick", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "trained with the reduced settings" in res.stderr
    assert "(test set: not used in training)" in res.stdout
    result = res.stdout.strip().splitlines()[-1]
    assert result.startswith("result: steps_per_s=") and "drift" not in result  # Langevin: no drift


@pytest.mark.parametrize("args", [("--cutoff", "0.5"), ("--learning-rate", "10", "--model", "schnet")])
def test_a_model_that_learned_nothing_is_never_the_newest(trained, tmp_path, args):
    out, env, model = trained
    res = run_script(SCRIPT2, "--quick", *args, env=env)
    assert res.returncode == 1
    (line,) = errors(res.stderr)
    assert "learned nothing" in line and "no better than guessing zero forces" in line
    res = run_script(SCRIPT3, "--quick", env=env)  # the newest model that learned something
    assert res.returncode == 0 and "model: PaiNN, " in res.stdout
    assert model.name in res.stdout


def test_no_validation_is_refused_before_any_work(trained):
    out, env, _ = trained
    before = sorted(p.name for p in (out / "schnet_tutorial" / "models").iterdir())
    res = run_script(SCRIPT2, "--quick", "--val-every", "10", env=env)
    assert res.returncode == 2 and errors(res.stderr) == [
        "error: VAL_EVERY (10) must be at most EPOCHS (5): no validation would run, and no model be kept"
    ]
    assert sorted(p.name for p in (out / "schnet_tutorial" / "models").iterdir()) == before


def test_an_average_of_the_weights_needs_every_epoch_validated(trained):
    out, env, _ = trained
    res = run_script(SCRIPT2, "--quick", "--ema-decay", "0.99", "--val-every", "2", env=env)
    assert res.returncode == 2 and errors(res.stderr) == [
        "error: EMA_DECAY (0.99) needs VAL_EVERY = 1 (got 2): SchNetPack's average of the weights is kept "
        "only when every epoch is validated"
    ]


def test_missing_or_wrong_database(trained, tmp_path):
    out, env, model = trained
    db = out / "schnet_tutorial" / "data" / "ethanol.db"
    res = run_script(SCRIPT2, "--quick", "--db-path", dataset.DATA_FILE, env=env)
    assert res.returncode == 2 and "is not a SchNetPack database (.db)" in errors(res.stderr)[0]
    assert "--data-file" in errors(res.stderr)[0]
    moved = tmp_path / "ethanol.db"
    shutil.move(db, moved)
    try:
        res = run_script(SCRIPT3, "--quick", "--md-steps", 5, env=env)
        assert res.returncode == 0 and "database" in res.stdout and "is gone" in res.stdout
        assert not db.exists()  # script3 does not create an empty one
        res = run_script(SCRIPT2, "--quick", env=env)
        assert res.returncode == 2 and "not found: run script1_prepare_data.py first" in errors(res.stderr)[0]
    finally:
        shutil.move(moved, db)


def test_a_broken_newest_model_names_an_older_one(trained, tmp_path):
    out, env, model = trained
    copy = out / "schnet_tutorial" / "models" / "zz_broken"
    shutil.copytree(model, copy)
    (copy / "best_model").write_bytes((copy / "best_model").read_bytes()[:1000])  # cut off
    os.utime(copy / "model_info.json")  # the newest
    try:
        res = run_script(SCRIPT3, "--quick", env=env)
        assert res.returncode == 2
        (line,) = errors(res.stderr)
        assert "broken" in line and "an older model: --model-file" in line and model.name in line
    finally:
        shutil.rmtree(copy)


def test_one_script1_at_a_time(tmp_path):
    env = {"ML_TUTORIAL_OUTPUT": str(tmp_path)}
    small = tmp_path / "small.xyz"
    write(str(small), dataset.read_frames(dataset.DATA_FILE, index=":30"), format="extxyz")
    db = tmp_path / "schnet_tutorial" / "data" / "ethanol.db"
    db.parent.mkdir(parents=True)
    lock = db.with_name("ethanol.db.lock")
    lock.write_text(str(os.getpid()))  # a live process holds it
    res = run_script(SCRIPT1, "--data-file", small, env=env)
    assert res.returncode == 2 and "another script1 is building" in errors(res.stderr)[0]
    assert not db.exists()
    lock.write_text("999999999")  # a process that is gone: its lock is taken over
    res = run_script(SCRIPT1, "--data-file", small, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert db.is_file() and not lock.exists() and not list(db.parent.glob("*.tmp*"))


def test_a_deleted_setting_line_is_one_line(trained, tmp_path):
    _, env, _ = trained
    text = SCRIPT3.read_text(encoding="utf-8")
    edited = "\n".join(line for line in text.splitlines() if not line.startswith("MD_STEPS = "))
    script = tmp_path / "script3_run_md.py"
    script.write_text(edited, encoding="utf-8")
    res = run_script(script, env=env)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("error: the setting MD_STEPS is not defined")
    assert "Traceback" not in res.stderr


def namespace(**values):
    return {"__file__": str(TUT / "script4_learning_curve.py"), **values}


LISTS = [["--train-sizes", "10", "20", "40"], ["--train-sizes", "[10, 20, 40]"], ["--train-sizes=10,20,40"]]


@pytest.mark.parametrize("argv", LISTS)
def test_lists_on_the_command_line(argv):
    ns = namespace(TRAIN_SIZES=[25], EPOCHS=3)
    settings.apply_overrides(ns, argv, "script4_learning_curve")
    assert ns["TRAIN_SIZES"] == [10, 20, 40]


def test_help_shows_allowed_values_and_units():
    ns = namespace(TRAIN_SIZES=[25], LADDER="short", N_VAL=200)
    text = settings.usage(ns, "script4_learning_curve")
    assert "--ladder" in text and "one of short, full, none" in text
    assert "training frames N of the points of the learning curve" in text  # the comment at the top
    assert "a list of integers >= 1" in text


def test_run_names_keep_the_learning_rate():
    from common.runs import settings_name

    assert settings_name(lr=0.00015, f=16) == "lr1.5e-04_f16" and settings_name(lr=1e-3) == "lr1e-03"


def test_a_rebuilt_database_is_named_and_no_false_test_claim(trained):
    """Last in this file: it replaces the module's database."""
    out, env, _ = trained
    other = out / "other.xyz"
    frames = dataset.read_frames(dataset.DATA_FILE, index="::4")  # other frames (500), other order
    write(str(other), frames, format="extxyz")
    res = run_script(SCRIPT1, "--data-file", other, env=env)
    assert res.returncode == 0 and "warning: replacing ethanol.db" in res.stderr
    res = run_script(SCRIPT3, "--quick", "--md-steps", 5, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "was rebuilt from other data since the model" in res.stderr
    assert "test set" not in res.stdout
