"""common/settings.py: the one line of set-up every script has."""

import re
import sys

import pytest

from common import settings
from conftest import ROOT

SCRIPTS = sorted(ROOT.glob("lj_[0-9]*.py")) + sorted(ROOT.glob("schnet_tutorial/script[0-9]*.py"))


def setting_names(script):
    """The names assigned in a script's settings block."""
    lines = script.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# %% Settings"))
    names = []
    for line in lines[start + 1 :]:
        if line.startswith("setup(globals()"):
            return names, line
        match = re.match(r"^([A-Z_0-9, ]+) = ", line)
        if match:
            names += [n.strip() for n in match.group(1).split(",")]
    raise AssertionError(f"{script.name}: no setup(globals(), ...) line after the settings")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_setting_of_every_script_has_a_rule_and_quick_settings(script):
    names, line = setting_names(script)
    assert f'setup(globals(), "{script.stem}")' in line
    rules = settings.RULES
    assert names and not [n for n in names if n not in rules], [n for n in names if n not in rules]
    assert script.stem in settings.QUICK
    assert set(settings.QUICK[script.stem]) <= set(names)


def test_one_rule_per_name_and_no_dead_rules():
    """A name means one thing in every script (there is no per-script table of exceptions), and
    every rule belongs to a setting some script has."""
    assert not hasattr(settings, "SCRIPT_RULES")
    used = {name for script in SCRIPTS for name in setting_names(script)[0]}
    assert sorted(set(settings.RULES) - used) == []


def test_quick_settings_are_announced_in_the_first_line(monkeypatch, capsys):
    monkeypatch.setenv("ML_TUTORIAL_QUICK", "1")
    ns = namespace(EPOCHS=600, N_SEEDS=5, LEARNING_RATE=2e-3)
    settings.setup(ns, "lj_1_overfit")
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("reduced settings") and "EPOCHS 600 -> 50" in first
    assert settings.quick_settings() and settings.settings_used()["EPOCHS"] == 50


def test_arguments_are_read_only_when_the_script_runs_as_a_program(monkeypatch, tmp_path):
    script = tmp_path / "x.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--epochs", "3"])
    assert settings.command_line({"__file__": str(script)}) == ["--epochs", "3"]  # python x.py, %run
    assert settings.command_line({}) == []  # a notebook: no __file__
    monkeypatch.setattr(sys, "argv", ["/venv/ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    assert settings.command_line({"__file__": str(script)}) == []  # VS Code's interactive window


def namespace(**values):
    return {"__file__": None, **values}


def test_quick_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("ML_TUTORIAL_QUICK", "1")
    ns = namespace(EPOCHS=600, N_SEEDS=5, LEARNING_RATE=2e-3)
    settings.setup(ns, "lj_1_overfit")
    assert ns["EPOCHS"] == settings.QUICK["lj_1_overfit"]["EPOCHS"] and ns["LEARNING_RATE"] == 2e-3


@pytest.mark.parametrize(
    "script, values, message",
    [
        ("lj_5_bias_variance", dict(EPOCHS=True), "EPOCHS must be an integer >= 1, got True"),
        ("lj_5_bias_variance", dict(LEARNING_RATE=float("nan")), "LEARNING_RATE must be a finite number > 0"),
        ("lj_5_bias_variance", dict(WIDTHS=[]), "WIDTHS must be a list of integers >= 1"),
        ("lj_5_bias_variance", dict(SMALL=(10, 8)), "SMALL must be (basis functions, width, depth)"),
        ("lj_5_bias_variance", dict(R_MIN=2.0, R_MAX=1.0), "need R_MIN < R_MAX"),
        ("script4_learning_curve", dict(LADDER="tall"), "LADDER must be one of short, full, none"),
        (
            "script4_learning_curve",
            dict(MODELS=["schnet", "mace"]),
            "MODELS must be a list of schnet and/or painn",
        ),
        ("script4_learning_curve", dict(TRAIN_SIZES=[25, 0]), "TRAIN_SIZES must be a list of integers >= 1"),
        ("script2_train_schnet", dict(N_TRAIN=[25, 50]), "N_TRAIN must be an integer >= 1"),
    ],
)
def test_bad_values_stop_with_one_line(script, values, message, capsys):
    with pytest.raises(SystemExit) as stop:
        settings.setup(namespace(**values), script)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_imported_constants_are_not_settings():
    from common.runs import RUNS_DIR

    assert settings.settings_of({"RUNS_DIR": RUNS_DIR, "EPOCHS": 3, "ACTIVATIONS": settings.ACTIVATIONS}) == [
        "EPOCHS"
    ]
