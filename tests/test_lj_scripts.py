"""Every lj script as a user runs it: headless, twice in a row, from another folder, bad values."""

import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run_script

LJ_SCRIPTS = sorted(ROOT.glob("lj_[0-9]*.py"))
FIGURES = {
    "lj_1_overfit": ["lj_1_overfit.png", "lj_1_descriptor.png"],
    "lj_2_overfit_with_validation": ["lj_2_loss_curves.png", "lj_2_fit.png"],
    "lj_3_hyperparameters": ["lj_3_fit.png"],
}


def test_the_first_three_scripts_exist():
    assert [p.name for p in LJ_SCRIPTS[:3]] == [
        "lj_1_overfit.py", "lj_2_overfit_with_validation.py", "lj_3_hyperparameters.py"]


@pytest.mark.parametrize("script", LJ_SCRIPTS, ids=lambda p: p.stem)
def test_script_has_the_lecture_layout(script):
    text = script.read_text()
    assert text.startswith('"""') and "slide" in text.split('"""')[1].lower()
    cells = [line for line in text.splitlines() if line.startswith("# %%")]
    order = ["1 Data", "2 Model", "3 Cost function", "4 Find the parameters", "5 Look at the result"]
    positions = [next(i for i, c in enumerate(cells) if c.startswith(f"# %% {h}")) for h in order]
    assert positions == sorted(positions)


# these run twice, from another folder and from the repository, in their own tests (test_lj_4_to_7.py)
TESTED_TWICE_ELSEWHERE = {"lj_4_learning_curve", "lj_5_bias_variance", "lj_6_optimizers",
                          "lj_7_hyperparameter_search"}


@pytest.mark.parametrize("script", [p for p in LJ_SCRIPTS if p.stem not in TESTED_TWICE_ELSEWHERE],
                         ids=lambda p: p.stem)
def test_script_runs_twice_and_from_another_folder(script, tmp_path):
    args = ["--quick"]
    if script.stem == "lj_3_hyperparameters" or "RUNS_DIR" in script.read_text():
        args += ["--runs-dir", tmp_path / "runs"]
    figures = [ROOT / "figures" / f for f in FIGURES.get(script.stem, [])]
    for f in figures:
        f.unlink(missing_ok=True)
    first = run_script(script, *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    for f in figures:
        assert f.exists() and f.stat().st_size > 5000, f
    second = run_script(script, *args, cwd=ROOT)
    assert second.returncode == 0, second.stderr[-2000:]
    if script.stem == "lj_1_overfit":
        assert "6,601 trainable parameters" in first.stdout
        assert first.stdout.count("MSE (epsilon^2) training") == 2  # --quick: 2 seeds
    if script.stem == "lj_2_overfit_with_validation":
        assert first.stdout.count("test MSE") == 1
        assert first.stdout.rstrip().splitlines()[-1].startswith("test MSE")
    if script.stem == "lj_3_hyperparameters":
        runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
        assert len(runs) == 2  # two runs, two folders, nothing overwritten
        for run in runs:
            assert list(run.rglob("events.out.tfevents.*"))


@pytest.mark.parametrize("args, message", [
    (["--learning-rate", "-1"], "LEARNING_RATE must be > 0"),
    (["--n-points", "0"], "N_POINTS must be >= 1"),
    (["--activation", "sigmoidish"], "ACTIVATION must be one of"),
    (["--epochs", "many"], "EPOCHS must be an integer"),
    (["--no-such-option", "1"], "unknown option"),
])
def test_bad_hyperparameter_gives_one_line_error(args, message):
    res = run_script(ROOT / "lj_1_overfit.py", *args)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], res.stderr


@pytest.mark.parametrize("args, message", [
    (["--optimizer", "rmsprop-ish"], "OPTIMIZER must be one of"),
    (["--n-train", "0"], "N_TRAIN must be >= 3"),
    (["--descriptor", "fourier"], "DESCRIPTOR must be one of"),
])
def test_lj3_bad_hyperparameters(args, message, tmp_path):
    res = run_script(ROOT / "lj_3_hyperparameters.py", *args, "--runs-dir", tmp_path)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not any(tmp_path.iterdir())  # nothing written for a bad run


SPYDER_RUNFILE = '''
import sys
# what Spyder's runfile does: the script's code runs in the console's own process, with __name__
# "__main__", __file__ set, sys.argv = [script, *command-line options], in the console's folder
script, more = sys.argv[1], sys.argv[2:]
for options in (["--quick"], ["--learning-rate", "-1"], ["--quick"]):
    sys.argv = [script, *options, *more]
    namespace = {"__name__": "__main__", "__file__": script}
    try:
        exec(compile(open(script, encoding="utf-8").read(), script, "exec"), namespace)
        print("RUN OK", flush=True)
    except SystemExit as stop:   # the console catches it and lives on
        print("RUN EXIT", stop.code, flush=True)
'''


@pytest.mark.parametrize("script", [ROOT / "lj_2_overfit_with_validation.py",
                                    ROOT / "lj_3_hyperparameters.py"], ids=lambda p: p.stem)
def test_spyder_runfile_twice_in_one_console(script, tmp_path):
    """Spyder runs a script inside its console's Python process: a run, a run stopped by a bad
    value (one-line error, the console survives), and another run all work in the same process."""
    more = ["--runs-dir", tmp_path / "runs"] if "RUNS_DIR" in script.read_text() else []
    res = run_script("-c", SPYDER_RUNFILE, script, *more, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    results = [ln for ln in res.stdout.splitlines() if ln.startswith("RUN ")]
    assert results[0] == "RUN OK" and results[1] not in ("RUN OK", "RUN EXIT 0", "RUN EXIT None")
    assert results[2] == "RUN OK"
    assert "error: LEARNING_RATE must be > 0" in res.stderr
    if more:   # lj_3: the two good runs left two TensorBoard folders, the bad one none
        assert len([p for p in (tmp_path / "runs").iterdir() if p.is_dir()]) == 2
