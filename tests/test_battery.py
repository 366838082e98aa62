"""The careless student's battery, by kind (issue 26): settings that are not settings, the tour's
options, the output folder as a dialog passes it, advice that names the cause and the script's own
settings, odd input forms (--name=value, --quick=1) and a pure-ASCII terminal. Cheap: most checks run
in this process; the few scripts run stop at their settings or train a few epochs."""

import os
import re
import subprocess
import sys

import pytest

import tour
from common import runs, settings
from common.runs import BEST
from conftest import ROOT, run_script

SCRIPTS = sorted(ROOT.glob("lj_[0-9]*.py")) + sorted(ROOT.glob("schnet_tutorial/script[0-9]*.py"))


def one_line_error(res, message, code=2):
    assert res.returncode == code, (res.returncode, res.stderr[-2000:])
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], res.stderr


def block_names(script):
    """The names assigned between a script's '# %% Settings' line and its setup(...) line."""
    text = script.read_text(encoding="utf-8")
    block = text.split("# %% Settings", 1)[1].split("\nsetup(globals()", 1)[0]
    return [n.strip() for m in re.findall(r"^([A-Z][A-Z_0-9, ]*) = ", block, re.M) for n in m.split(",")]


# ---------------------------------------------------------------------------------------------
# Settings that are not settings: only the settings block is
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_the_settings_are_the_settings_block_of_every_script(script):
    assert settings.settings_block(script) == block_names(script)
    namespace = {"__file__": str(script), "BEST": BEST, "RUNS_DIR": runs.RUNS_DIR, "LOCAL_CONSTANT": 3}
    namespace.update(dict.fromkeys(block_names(script), 1))
    assert settings.settings_of(namespace) == block_names(script)  # imported and later names are not


def test_without_the_file_imported_constants_are_not_settings():
    namespace = {"__file__": None, "BEST": BEST, "EPOCHS": 3, "SEED": 0, "ACTIVATIONS": settings.ACTIVATIONS}
    assert settings.settings_of(namespace) == ["EPOCHS", "SEED"]  # a notebook: no file to read


def test_an_imported_tag_is_no_option_and_not_in_help(tmp_path):
    env = {"ML_TUTORIAL_OUTPUT": str(tmp_path)}
    res = run_script(ROOT / "lj_3_hyperparameters.py", "--best", "1", env=env)
    one_line_error(res, "unknown option --best; options are: --n-train")
    assert "--quick, --help" in res.stderr
    res = run_script(ROOT / "lj_7_hyperparameter_search.py", "--help", env=env)
    assert res.returncode == 0 and "--best" not in res.stdout and "best_epoch" not in res.stdout
    assert "  --quick " in res.stdout and "  --grid-width " in res.stdout
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# Odd input forms: --name=value, --quick=1, one dash, a near miss
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, asked, rest",
    [
        (["--quick"], True, []),
        (["--quick=1", "--epochs", "3"], True, ["--epochs", "3"]),
        (["--quick=true"], True, []),
        (["--quick", "false"], False, []),
        (["--quick=0"], False, []),
        (["--epochs=3"], None, ["--epochs=3"]),
    ],
)
def test_quick_option_forms(argv, asked, rest):
    assert settings.quick_option(argv) == (rest, asked)


def test_quick_with_a_nonsense_value_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        settings.quick_option(["--quick=maybe"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: --quick takes no value (or =1, =true, =0, =false), got '--quick=maybe'"
    )


def test_name_equals_value_forms():
    ns = {"__file__": None, "EPOCHS": 10, "WIDTHS": [2, 4], "LEARNING_RATE": 1e-3, "FORCE": False}
    settings.apply_overrides(ns, ["--epochs=3", "--widths=8", "16", "--learning_rate=0.01", "--force=1"], "x")
    assert ns == {"__file__": None, "EPOCHS": 3, "WIDTHS": [8, 16], "LEARNING_RATE": 0.01, "FORCE": True}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-epochs", "3"], "error: unknown option -epochs: options start with two dashes"),
        (["--epoch", "3"], "error: unknown option --epoch (did you mean --epochs?); options are: --epochs"),
        (["--epochs"], "error: option --epochs needs a value, e.g. --epochs 10"),
        (["epochs=3"], "error: unexpected argument 'epochs=3'; use --name value, e.g. --epochs=3"),
    ],
)
def test_odd_options_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        settings.apply_overrides({"__file__": None, "EPOCHS": 10}, argv, "x")
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith(message), err


def test_a_pure_ascii_terminal_prints_escapes_not_a_traceback(tmp_path):
    script = tmp_path / "angstrom.py"
    script.write_text(
        '"""A script whose settings and output have non-ASCII text."""\n'
        "from common.settings import setup\n\n"
        "# %% Settings\n"
        "CUTOFF = 5.0  # Å: atoms closer than this exchange messages\n"
        'setup(globals(), "angstrom")\n'
        'print(f"cutoff {CUTOFF} Å")\n',
        encoding="utf-8",
    )
    env = {"ML_TUTORIAL_OUTPUT": str(tmp_path / "out")}
    for extra, variables in (([], {"PYTHONIOENCODING": "ascii"}), (["-X", "utf8=0"], {"LC_ALL": "C"})):
        for args in ([], ["--help"]):
            res = subprocess.run(
                [sys.executable, *extra, str(script), *args],
                capture_output=True,
                env={**os.environ, "MPLBACKEND": "Agg", **env, **variables},
                cwd=tmp_path,
            )
            assert res.returncode == 0 and b"Traceback" not in res.stderr, res.stderr[-2000:]
            assert b"\\xc5" in res.stdout


# ---------------------------------------------------------------------------------------------
# The output folder as an environment dialog passes it
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["~/mlout", "'~/mlout'", '"$HOME/mlout"', "${HOME}/mlout ", " ~/mlout/"])
def test_output_folder_expands_home_and_variables(value, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert runs.output_root(value) == tmp_path / "mlout"


@pytest.mark.parametrize("value", ["", "  ", None])
def test_output_folder_unset_is_the_project(value):
    assert runs.output_root(value) == runs.REPO_ROOT


@pytest.mark.parametrize(
    "value, message",
    [
        ("$NO_SUCH_VARIABLE_26/out", "($NO_SUCH_VARIABLE_26 is not an environment variable here)"),
        ("~no_such_user_26/out", "(~no_such_user_26 is no user's home folder here)"),
        ("out\nmore", "(it holds a line break or a control character)"),
    ],
)
def test_output_folder_nonsense_is_one_line(value, message, monkeypatch, capsys):
    monkeypatch.delenv("NO_SUCH_VARIABLE_26", raising=False)
    with pytest.raises(SystemExit) as stop:
        runs.output_root(value)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith("error: ML_TUTORIAL_OUTPUT=")
    assert message in err[0] and "set it to a folder" in err[0]


def test_a_script_writes_into_the_expanded_folder(tmp_path):
    """lj_1 with ML_TUTORIAL_OUTPUT='~/mlout' (quotes and all), --quick=1 and --name=value forms."""
    home = tmp_path / "home"
    env = {"HOME": str(home), "ML_TUTORIAL_OUTPUT": "'~/mlout'"}
    res = run_script(
        ROOT / "lj_1_overfit.py", "--quick=1", "--epochs=3", "--n-seeds", "1", env=env, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("reduced settings") and "EPOCHS 600 -> 50" in res.stdout
    assert (home / "mlout" / "figures" / "lj_1_overfit.png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no folder named ~ or 'mlout'


# ---------------------------------------------------------------------------------------------
# The tour: names (spaces or commas), --quick passed on, unknown options one line
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, names, passed",
    [
        (["lj_1,lj_2", "--quick"], ["lj_1", "lj_2"], ["--quick"]),
        (["--quick=1", "lj_1.py"], ["lj_1"], ["--quick"]),
        (["schnet_tutorial/script2_train_schnet.py", "LJ_2"], ["script2_train_schnet", "lj_2"], []),
        (["lj_1", "lj_2,", "--quick=0"], ["lj_1", "lj_2"], []),
        ([], [], []),
    ],
)
def test_tour_arguments(argv, names, passed):
    assert tour.options(argv) == (names, passed)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "3"], "error: unknown option --epochs; the tour takes script names and --quick"),
        (["lj_1", "-q"], "error: unknown option -q; the tour takes script names and --quick"),
        (["lj_1,lj_9"], "error: no script matches 'lj_9'; name them as lj_1 lj_2 (or lj_1,lj_2), or all"),
        (["--quick=maybe"], "error: --quick takes no value"),
    ],
)
def test_tour_refuses_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        tour.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith(message), err


def test_tour_passes_quick_to_every_script(monkeypatch, capsys):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="result: x=1\n")

    monkeypatch.setattr(tour.subprocess, "run", fake_run)
    assert tour.main(["lj_1,lj_2", "--quick"]) == 0
    assert [(c[1].split("/")[-1], c[2:]) for c in calls] == [
        ("lj_1_overfit.py", ["--quick"]),
        ("lj_2_overfit_with_validation.py", ["--quick"]),
    ]
    assert "tour: 2/2 scripts OK" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Advice: the cause, in the running script's own settings, with numbers the student set
# ---------------------------------------------------------------------------------------------
SCRIPT2 = {"N_TRAIN": 200, "N_VAL": 50, "N_TEST": 0, "EPOCHS": 5, "BATCH_SIZE": 8, "LEARNING_RATE": 1e-2}


@pytest.mark.parametrize(
    "changes, advice",
    [
        (
            {"BATCH_SIZE": 100000},
            "only 5 optimizer steps in all (5 epochs of 1 batch of 200 of the 200 training frames, "
            "BATCH_SIZE = 100000): a smaller BATCH_SIZE (8: 25 steps per epoch) or more EPOCHS",
        ),
        (
            {"LEARNING_RATE": 0.00015},
            "LEARNING_RATE = 0.00015 is 67x below the default 0.01: 125 steps moved the weights too little; "
            "a larger LEARNING_RATE or more EPOCHS",
        ),
        (
            {"LEARNING_RATE": 10.0},
            "LEARNING_RATE = 10 is above the default 0.01 (too large); lower LEARNING_RATE",
        ),
        (
            {"CUTOFF": 0.5},
            "CUTOFF = 0.5 Å is shorter than the C-C bond (1.52 Å): atoms see too few neighbours; raise "
            "CUTOFF (default 5 Å)",
        ),
        ({}, "train longer (more EPOCHS) or on more frames (N_TRAIN)"),
    ],
)
def test_learned_too_little_names_the_cause(changes, advice, monkeypatch):
    pipeline = pytest.importorskip("schnet_tutorial.helpers.pipeline")
    monkeypatch.setattr(settings, "_SETTINGS", {**SCRIPT2, **changes})
    assert pipeline.what_to_change({**SCRIPT2, **changes}, {"epochs_done": 5}, 200) == advice


def test_advice_never_names_a_setting_the_script_lacks(monkeypatch):
    """script4-6 have STEPS, not EPOCHS, BATCH_SIZE or LEARNING_RATE."""
    from common.training import too_little_training

    monkeypatch.setattr(settings, "_SETTINGS", {"STEPS": 30, "N_VAL": 20, "N_TEST": 50})
    (advice,) = too_little_training(30, 100, 50, 1e-2, 1e-2, 15, 15)
    assert advice == (
        "only 30 optimizer steps in all (15 epochs of 2 batches of 50 of the 100 training frames, batch "
        "size = 50): a smaller batch size (8: 13 steps per epoch) or more STEPS"
    )


@pytest.mark.parametrize(
    "script_settings, args, message",
    [
        (
            {"N_TRAIN": 20, "N_VAL": 10, "N_TEST": 0},
            (30, 20, 10, 0),
            "N_TRAIN = 20 + N_VAL = 10 + N_TEST = 0 needs more than the 30 frames of the database (and at "
            "least one test frame); lower N_TRAIN or N_VAL",
        ),
        (  # script4: a training size too large for the database
            {"TRAIN_SIZES": [25, 5000], "N_VAL": 200, "N_TEST": 500, "N_LADDER": 1000},
            (2000, 5000, 200, 500),
            "5000 training frames (TRAIN_SIZES) + N_VAL = 200 + N_TEST = 500 needs more than the 2000 frames "
            "of the database (and at least one test frame); lower TRAIN_SIZES or N_VAL or N_TEST",
        ),
        (  # script6: its pool is what N_VAL and N_TEST leave, a number the student never set
            {"AL_START": 50, "N_VAL": 200, "N_TEST": 0},
            (2000, 1800, 200, 0),
            "1800 training frames + N_VAL = 200 + N_TEST = 0 needs more than the 2000 frames of the database "
            "(and at least one test frame); set N_TEST > 0",
        ),
    ],
)
def test_split_errors_name_the_running_scripts_settings(script_settings, args, message, monkeypatch, capsys):
    dataset = pytest.importorskip("schnet_tutorial.helpers.dataset")
    monkeypatch.setattr(settings, "_SETTINGS", script_settings)
    with pytest.raises(SystemExit) as stop:
        dataset.split(*args)
    assert stop.value.code == 2 and capsys.readouterr().err.strip() == f"error: {message}"
