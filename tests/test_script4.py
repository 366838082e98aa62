"""schnet_tutorial/script4_learning_curve.py with reduced settings (--quick) and the trainings it runs
(schnet_tutorial/helpers/workers.py, pipeline.py):
the curve's shape, the ladder, the cache, --force, one-line errors.

--quick: a SchNet learning curve at N = 10 (two training sets) and N = 100, and the five short rungs
on 100 frames, 150 optimizer steps per point: real trainings of a few seconds each.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import schnetpack.transform as trn

from conftest import HANG_S, ROOT, output_with_database, run_script

from schnet_tutorial.helpers import dataset, model_files, pipeline, workers  # isort: skip (first: it quiets SchNetPack's import)

SCRIPT4 = ROOT / "schnet_tutorial" / "script4_learning_curve.py"
RESULT = re.compile(
    r"^result: schnet_100_force_mae_kcal_mol_A=(\S+) slope_schnet=(\S+) "
    r"best_rung_force_mae_kcal_mol_A=(\S+) best_rung_train_s=(\S+) total_s=\S+$"
)
TRAINED = re.compile(
    r"^  (.+?)\s+energy MAE\s+(\S+) kcal/mol, force MAE\s+(\S+) kcal/mol/Å,\s+(\S+) s( \(reused\))?$"
)


def trained_lines(stdout):
    """{label: (energy MAE, force MAE, seconds, reused)} of the lines printed as trainings finish."""
    found = {}
    for line in stdout.splitlines():
        if m := TRAINED.match(line):
            found[m[1]] = (float(m[2]), float(m[3]), float(m[4]), bool(m[5]))
    return found


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out, env = output_with_database(tmp_path_factory, "script4")
    res = run_script(SCRIPT4, "--quick", env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return out, env, res


def test_curve_and_ladder(first_run):
    out, _, res = first_run
    lines = res.stdout.splitlines()
    m = RESULT.match(lines[-1])
    assert m, lines[-1]
    force_100, slope, best, best_s = map(float, m.groups())
    assert 0 < best < force_100 < 20  # kcal/mol/Å: a longer rung beats the minute's point
    assert slope < 0  # more data, smaller test error
    trained = trained_lines(res.stdout)
    n10 = [trained[f"schnet N=10 draw {k}"][1] for k in (0, 1)]
    assert n10[0] != n10[1]  # two training sets, two models
    assert trained["schnet N=100 draw 0"][1] < min(n10)
    assert trained["SchNet, 4x steps"][1] < trained["schnet N=100 draw 0"][1]
    assert not any(reused for *_, reused in trained.values())
    assert best_s > 0 and all(s > 0 for _, _, s, _ in trained.values())
    for name in ("schnet_learning_curve.png", "schnet_ladder.png"):
        assert (out / "figures" / name).stat().st_size > 10_000
    # every training is a model folder script3 and script7 can use: model, model_info.json, result
    folder = out / "results" / "script4_learning_curve"
    done = sorted(p for p in folder.iterdir() if (p / workers.RESULT_FILE).is_file())
    assert len(done) == 7  # 3 curve points + 5 rungs, the slides' minute is the N=100 point
    best_folder = re.search(r"--model-file\): (\S+)$", res.stdout, re.M)[1]
    info = json.loads((out / best_folder.split(str(out) + "/")[1] / model_files.INFO_FILE).read_text())
    assert info["elements"] == [1, 6, 8] and info["energy_unit"] == "eV"
    model = model_files.load_model(best_folder)
    (inputs,) = dataset.load_inputs(out / "schnet_tutorial" / "data" / "ethanol.db", 5.0, [0, 1])
    energies, forces = model_files.predict_energy_forces(model, [trn.CastTo32()(d) for d in inputs])
    assert energies.shape == (2,) and forces.shape == (18, 3) and np.isfinite(forces).all()


def test_rerun_reuses_every_training(first_run):
    out, env, first = first_run
    folder = out / "results" / "script4_learning_curve"
    before = {p.name: (p / workers.RESULT_FILE).stat().st_mtime for p in folder.glob("*_seed*")}
    res = run_script(SCRIPT4, "--quick", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    trained = trained_lines(res.stdout)
    assert len(trained) == 7 and all(reused for *_, reused in trained.values())
    assert (
        res.stdout.splitlines()[-1].split(" total_s")[0] == first.stdout.splitlines()[-1].split(" total_s")[0]
    )
    assert {p.name: (p / workers.RESULT_FILE).stat().st_mtime for p in folder.glob("*_seed*")} == before

    # --force trains again (here one point only: one size, one set, no ladder)
    args = ("--quick", "--train-sizes", "10", "--sets-per-size", "1", "--ladder", "none", "--force")
    res = run_script(SCRIPT4, *args, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    trained = trained_lines(res.stdout)
    assert list(trained) == ["schnet N=10 draw 0"] and not trained["schnet N=10 draw 0"][3]
    # a curve of one size has no slope, and says why (not "N^nan")
    assert "SchNet: no slope: a power law needs two training sizes or more, TRAIN_SIZES = [10]" in res.stdout
    assert "N^nan" not in res.stdout
    (redone,) = [p for p in folder.glob("schnet_n10_seed0_*")]
    assert (redone / workers.RESULT_FILE).stat().st_mtime > before[redone.name]


def test_the_full_ladder_names_its_10_minute_rung(first_run):
    """--ladder full (here with 20 steps per STEPS: seconds per rung) prints the rung10 model's folder
    and puts its error and time into the result line."""
    out, env, _ = first_run
    args = (
        "--quick",
        "--train-sizes",
        "10,100",
        "--sets-per-size",
        "1,1",
        "--steps",
        "50",
        "--ladder",
        "full",
    )
    res = run_script(SCRIPT4, *args, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    result = res.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=") for item in result.removeprefix("result: ").split())
    assert 0 < float(fields["rung10_force_mae_kcal_mol_A"]) < 30 and float(fields["rung10_train_s"]) >= 0
    folder = re.search(r"^rung10 model: (\S+)$", res.stdout, re.M)[1]
    info = json.loads((Path(folder) / model_files.INFO_FILE).read_text())
    assert info["settings"]["MODEL"] == "painn" and (Path(folder) / model_files.MODEL_FILE).is_file()
    assert "PaiNN, 5.5x steps: 10 minutes" in trained_lines(res.stdout)


@pytest.mark.parametrize(
    "args, message",
    [
        (("--sets-per-size", "1,2,3"), "SETS_PER_SIZE needs one count per TRAIN_SIZES value"),
        (("--train-sizes", "25,99999"), "needs more than the 2000 frames"),
        (("--n-test", "0"), "N_TEST must be at least 1 here: every training is tested on the same N_TEST"),
    ],
)
def test_bad_values_stop_with_one_line(first_run, args, message):
    """The checks of cell 1 (the settings' own rules: tests/test_settings.py)."""
    _, env, _ = first_run
    res = run_script(SCRIPT4, "--quick", *args, env=env)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and message in res.stderr, res.stderr


def test_a_diverging_training_is_one_line_and_leaves_no_result(first_run, tmp_path):
    out, _, _ = first_run
    db = out / "schnet_tutorial" / "data" / "ethanol.db"
    bad = {"train_idx": range(20), "val_idx": range(20, 30), "test_idx": range(30, 40), "DB_PATH": str(db)}
    bad.update(EPOCHS=5, LEARNING_RATE=1e4, N_FEATURES=8, N_FILTERS=8, N_INTERACTIONS=1)
    with pytest.raises(SystemExit) as stop:
        workers.run_all({"bad": bad}, tmp_path, workers=1)
    assert stop.value.code == 2
    (folder,) = workers.folders({"bad": bad}, tmp_path).values()
    assert not (folder / workers.RESULT_FILE).exists()
    assert "diverged" in (folder / "log.txt").read_text()


def test_same_settings_same_folder(tmp_path):
    a = {"train_idx": np.arange(5), "val_idx": [5], "test_idx": [6], "SEED": 1}
    same = {
        **a,
        "train_idx": list(range(5)),
        "EPOCHS": pipeline.DEFAULTS["EPOCHS"],
    }  # a default changes nothing
    other = {**a, "LEARNING_RATE": 5e-3}
    places = workers.folders({"a": a, "same": same, "other": other}, tmp_path)
    assert places["a"] == places["same"] != places["other"]
    assert places["a"].name.startswith(f"{pipeline.DEFAULTS['MODEL']}_n5_seed1_")


def test_ctrl_c_stops_every_training_in_one_line_and_keeps_the_finished(first_run):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while the workers train:
    one line, exit code 130, no traceback; the finished trainings stay reusable. The signal is sent
    once a worker has its training (its settings.json written), not after some seconds."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out, env, _ = first_run
    folder = out / "results" / "script4_learning_curve"
    before = {p.name for p in folder.glob("*_seed*") if (p / workers.RESULT_FILE).is_file()}
    args = [
        "--quick",
        "--train-sizes",
        "10,100",
        "--sets-per-size",
        "1,1",
        "--ladder",
        "none",
        "--steps",
        "99999",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT4), *args],
        env={**os.environ, "MPLBACKEND": "Agg", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the signal reaches the script and its workers
    )
    try:
        deadline = time.monotonic() + HANG_S  # only against a hang
        while not [
            p for p in folder.glob("*_seed*") if p.name not in before and (p / "settings.json").is_file()
        ]:
            assert proc.poll() is None and time.monotonic() < deadline, "hang, or it ended before training"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    lines = [line for line in err.strip().splitlines() if line.startswith(("error:", "warning:"))]
    assert (
        len(lines) == 1
        and lines[0].startswith("error: interrupted (Ctrl-C): the ")
        and ("finished trainings are kept in" in lines[0] and "run the script again to continue" in lines[0])
    ), err[-3000:]
    assert not list(folder.glob(".*.lock"))  # no lock left behind
    assert {p.name for p in folder.glob("*_seed*") if (p / workers.RESULT_FILE).is_file()} >= before


def test_a_training_folder_is_claimed_by_one_run_at_a_time(tmp_path):
    """Two runs at once: a live run's lock is waited for (here: this run is stopping, so it gives up
    with Interrupted); a dead run's lock is taken over; a result whose model file is gone is no
    result (the training is redone, not "train one with script2")."""
    import subprocess
    import threading

    folder = tmp_path / "schnet_n10_seed0_abc"
    lock = tmp_path / f".{folder.name}.lock"
    other = subprocess.Popen(["sleep", "600"])  # another live run
    try:
        lock.write_text(str(other.pid))
        stop = threading.Event()
        stop.set()
        with pytest.raises(workers.Interrupted):
            with workers.claimed(folder, stop):
                pass
        assert lock.read_text() == str(other.pid)  # not taken from a live run
    finally:
        other.kill()
        other.wait()
    with workers.claimed(folder, threading.Event()):  # its process is gone: taken over
        assert lock.read_text() == str(__import__("os").getpid())
    assert not lock.exists()
    folder.mkdir()
    (folder / workers.RESULT_FILE).write_text('{"force_mae_kcal_mol_A": 1.0}')
    assert workers.load_result(folder) is None  # no model file
    (folder / model_files.MODEL_FILE).write_bytes(b"x")
    assert workers.load_result(folder) == {"force_mae_kcal_mol_A": 1.0}


def test_a_broken_committee_member_names_its_folder_and_force(tmp_path, capsys):
    from schnet_tutorial.helpers import committee

    member = tmp_path / "schnet_n200_seed1_abc"
    member.mkdir()
    (member / model_files.MODEL_FILE).write_bytes(b"cut off")
    with pytest.raises(SystemExit):
        committee.member_forces([member], [])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "broken" in line and "a cached committee training: delete its folder" in line
    assert "--force" in line and "script2" not in line


def test_committee_members_that_learned_too_little_are_said(tmp_path, capsys):
    """Cached trainings whose model_info.json says "learned nothing": one warning line, not silence."""
    import json

    from schnet_tutorial.helpers import committee

    jobs = {k: {"train_idx": [k, 10], "val_idx": [5], "test_idx": [6], "SEED": k} for k in range(2)}
    for k, place in workers.folders(jobs, tmp_path).items():
        place.mkdir()
        (place / workers.RESULT_FILE).write_text("{}")
        (place / model_files.MODEL_FILE).write_bytes(b"x")
        results = {"force_mae_kcal_mol_A": 19.0 - 10 * k, "zero_force_mae_kcal_mol_A": 19.5}
        (place / model_files.INFO_FILE).write_text(json.dumps({"learned": k == 1, "results": results}))
    places = committee.train(jobs, tmp_path, 1, False)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("warning: 1 of 2 committee members learned nothing or are far from usable")
    assert places[0].name in line and places[1].name not in line and "raise STEPS" in line
