"""Every lj script as a user runs it: headless, twice in a row, from another folder, bad values."""

import re

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
        "lj_1_overfit.py",
        "lj_2_overfit_with_validation.py",
        "lj_3_hyperparameters.py",
    ]


@pytest.mark.parametrize("script", LJ_SCRIPTS, ids=lambda p: p.stem)
def test_script_has_the_lecture_layout(script):
    text = script.read_text()
    assert text.startswith(('"""', 'r"""')) and "slide" in text.split('"""')[1].lower()  # r: TeX math
    cells = [line for line in text.splitlines() if line.startswith("# %%")]
    order = ["1 Data", "2 Model", "3 Cost function", "4 Find the parameters", "5 Look at the result"]
    positions = [next(i for i, c in enumerate(cells) if c.startswith(f"# %% {h}")) for h in order]
    assert positions == sorted(positions)


# these run twice, from another folder and from the repository, in their own tests (test_lj_4_to_7.py)
TESTED_TWICE_ELSEWHERE = {
    "lj_4_learning_curve",
    "lj_5_bias_variance",
    "lj_6_optimizers",
    "lj_7_hyperparameter_search",
}


def test_no_script_edits_sys_path_or_reads_its_own_file():
    for script in [*LJ_SCRIPTS, *ROOT.glob("schnet_tutorial/script*.py")]:
        text = script.read_text()
        assert "sys.path" not in text and "__file__" not in text, script.name
        lines = text.splitlines()
        settings = next(i for i, line in enumerate(lines) if line.startswith("# %% Settings"))
        cell1 = next(i for i, line in enumerate(lines) if line.startswith("# %% 1 "))
        block = [line for line in lines[settings + 1 : cell1] if line.strip()]
        setup_lines = [
            ln for ln in block if not re.match(r"^[A-Z_0-9, ]+ = ", ln) and not ln.startswith("# Hardware")
        ]
        assert len(setup_lines) <= 1 and "setup(globals()" in setup_lines[0], (script.name, setup_lines)


@pytest.mark.parametrize(
    "script", [p for p in LJ_SCRIPTS if p.stem not in TESTED_TWICE_ELSEWHERE], ids=lambda p: p.stem
)
def test_script_runs_twice_and_from_another_folder(script, tmp_path):
    env = {"ML_TUTORIAL_OUTPUT": str(tmp_path / "out")}
    figures = [tmp_path / "out" / "figures" / f for f in FIGURES.get(script.stem, [])]
    first = run_script(script, "--quick", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    for f in figures:
        assert f.exists() and f.stat().st_size > 5000, f
    second = run_script(script, "--quick", cwd=ROOT, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert first.stdout.rstrip().splitlines()[-1].startswith("result: ")
    if script.stem == "lj_1_overfit":
        assert "6,601 trainable parameters" in first.stdout
        assert first.stdout.count("MSE (epsilon^2) training") == 2  # --quick: 2 seeds
    if script.stem == "lj_2_overfit_with_validation":
        assert first.stdout.count("test MSE") == 1
    if script.stem == "lj_3_hyperparameters":
        runs = [p for p in (tmp_path / "out" / "runs").iterdir() if p.is_dir()]
        assert len(runs) == 2  # two runs, two folders, nothing overwritten
        for run in runs:
            assert list(run.rglob("events.out.tfevents.*"))


def test_lj1_memorises_at_the_default_settings(tmp_path):
    """slide 8 at the defaults but 2 seeds: every fit passes through every point, the unseen are far off"""
    res = run_script(ROOT / "lj_1_overfit.py", "--n-seeds", "2", env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-2000:]
    values = dict(item.split("=") for item in res.stdout.strip().splitlines()[-1].split()[1:])
    assert float(values["train_mse_max_eps2"]) < 1e-10
    assert float(values["interpolation_mse_max_eps2"]) > 1e-2
    assert float(values["extrapolation_mse_max_eps2"]) > 0.1


def one_line_error(res, message):
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], res.stderr


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("lj_1_overfit.py", ["--learning-rate", "-1"], "LEARNING_RATE must be a finite number > 0"),
        ("lj_1_overfit.py", ["--learning-rate", "inf"], "LEARNING_RATE must be a finite number > 0"),
        ("lj_1_overfit.py", ["--noise", "inf"], "NOISE must be a finite number >= 0"),
        ("lj_1_overfit.py", ["--n-train", "0"], "N_TRAIN must be an integer >= 1"),
        ("lj_1_overfit.py", ["--activation", "sigmoidish"], "ACTIVATION must be one of"),
        ("lj_1_overfit.py", ["--epochs", "many"], "EPOCHS must be an integer"),
        ("lj_1_overfit.py", ["--epochs", "40.0"], "EPOCHS must be an integer"),
        ("lj_1_overfit.py", ["--no-such-option", "1"], "unknown option"),
        ("lj_1_overfit.py", ["--r-max", "3.5"], "need R_MAX < R_EXTRAPOLATE"),
        ("lj_3_hyperparameters.py", ["--optimizer", "rmsprop-ish"], "OPTIMIZER must be one of"),
        ("lj_3_hyperparameters.py", ["--n-train", "0"], "N_TRAIN must be an integer >= 1"),
        ("lj_3_hyperparameters.py", ["--descriptor", "fourier"], "DESCRIPTOR must be one of"),
    ],
)
def test_bad_hyperparameter_gives_one_line_error(script, args, message, tmp_path):
    res = run_script(ROOT / script, *args, env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    one_line_error(res, message)
    assert not any(tmp_path.iterdir())  # nothing written for a bad run


@pytest.mark.parametrize("script", LJ_SCRIPTS[:3], ids=lambda p: p.stem)
def test_a_diverging_training_stops_with_one_line_and_keeps_the_earlier_figures(script, tmp_path):
    env = {"ML_TUTORIAL_OUTPUT": str(tmp_path)}
    good = run_script(script, "--quick", env=env)
    assert good.returncode == 0, good.stderr[-2000:]
    figures = {p: p.read_bytes() for p in (tmp_path / "figures").glob("*.png") if "descriptor" not in p.name}
    runs = sorted((tmp_path / "runs").iterdir()) if (tmp_path / "runs").exists() else []
    res = run_script(script, "--quick", "--learning-rate", "1e3", env=env)
    one_line_error(res, "training diverged")
    assert "LEARNING_RATE" in res.stderr
    assert figures and all(p.read_bytes() == data for p, data in figures.items())  # not replaced
    assert "result:" not in res.stdout
    if runs:  # lj_3: the diverged run's folder holds no final metrics
        assert len(list((tmp_path / "runs").iterdir())) == len(runs) + 1


@pytest.mark.parametrize(
    "edit, message",
    [
        ('LEARNING_RATE = "1e-3"', "LEARNING_RATE must be a finite number > 0, got '1e-3'"),
        ("EPOCHS = 40.0", "EPOCHS must be an integer >= 1, got 40.0"),
        ("WIDTH = 40.5", "WIDTH must be an integer >= 1, got 40.5"),
        ('DESCRIPTOR = "onehot"', "DESCRIPTOR must be one of gaussian, one_hot"),
    ],
)
def test_values_edited_into_the_file_are_checked(edit, message, tmp_path):
    """A student edits the constants at the top; a value of the wrong type stops at once, before any
    work and before a run folder is made."""
    source = (ROOT / "lj_3_hyperparameters.py").read_text()
    name = edit.split(" = ")[0]
    edited = re.sub(rf"^{name} = .*$", edit, source, count=1, flags=re.M)
    assert edited != source
    script = tmp_path / "lj_3_edited.py"
    script.write_text(edited)
    res = run_script(script, env={"ML_TUTORIAL_OUTPUT": str(tmp_path / "out")})
    one_line_error(res, message)
    assert not (tmp_path / "out").exists()


SPYDER_RUNFILE = """
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
"""


@pytest.mark.parametrize(
    "script",
    [ROOT / "lj_2_overfit_with_validation.py", ROOT / "lj_3_hyperparameters.py"],
    ids=lambda p: p.stem,
)
def test_spyder_runfile_twice_in_one_console(script, tmp_path):
    """Spyder runs a script inside its console's Python process: a run, a run stopped by a bad
    value (one-line error, the console survives), and another run all work in the same process."""
    res = run_script("-c", SPYDER_RUNFILE, script, cwd=tmp_path, env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-2000:]
    results = [ln for ln in res.stdout.splitlines() if ln.startswith("RUN ")]
    assert results[0] == "RUN OK" and results[1] not in ("RUN OK", "RUN EXIT 0", "RUN EXIT None")
    assert results[2] == "RUN OK"
    assert "error: LEARNING_RATE must be a finite number > 0" in res.stderr
    if script.stem == "lj_3_hyperparameters":  # two good runs left two TensorBoard folders, the bad one none
        assert len([p for p in (tmp_path / "runs").iterdir() if p.is_dir()]) == 2


IPYTHON_RUN = """
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_line_magic("run", "{script} --epochs 7")
print("EPOCHS", ip.user_ns["EPOCHS"])
"""


def test_ipython_percent_run_applies_its_options(tmp_path):
    res = run_script(
        "-c",
        IPYTHON_RUN.format(script=ROOT / "lj_3_hyperparameters.py"),
        cwd=tmp_path,
        env={"ML_TUTORIAL_OUTPUT": str(tmp_path)},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "EPOCHS 7" in res.stdout and (tmp_path / "figures" / "lj_3_fit.png").exists()


def test_an_unwritable_output_folder_stops_before_any_work(tmp_path):
    (tmp_path / "figures").write_text(
        "a file where the folder should be"
    )  # as root, chmod does not stop writes
    res = run_script(ROOT / "lj_1_overfit.py", "--quick", env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    one_line_error(res, "cannot write into")
    assert "ML_TUTORIAL_OUTPUT" in res.stderr and "seed 0" not in res.stdout  # no training was done


def test_a_device_that_is_not_there_gives_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():  # on a GPU machine ask for the other missing kind
        res = run_script(
            ROOT / "lj_3_hyperparameters.py",
            "--quick",
            "--device",
            "mps",
            env={"ML_TUTORIAL_OUTPUT": str(tmp_path)},
        )
        one_line_error(res, "DEVICE is 'mps'")
    else:
        res = run_script(
            ROOT / "lj_3_hyperparameters.py",
            "--quick",
            "--device",
            "cuda",
            env={"ML_TUTORIAL_OUTPUT": str(tmp_path)},
        )
        one_line_error(res, "DEVICE is 'cuda' but PyTorch finds no CUDA GPU")
    assert not (tmp_path / "runs").exists()
