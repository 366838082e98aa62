"""schnet_tutorial/script6_active_learning.py with reduced settings: committees trained on the labels an
active strategy chose and on random ones, from the same start; the record of each round; a rerun reuses
every training; one-line errors."""

import json
from pathlib import Path

import pytest

from conftest import ROOT, output_with_database, result_of, run_script

SCRIPT6 = ROOT / "schnet_tutorial" / "script6_active_learning.py"
# the reduced settings (common.settings.QUICK["script6_active_learning"] once it holds them)
QUICK = {"COMMITTEE": 2, "STEPS": 100, "N_TEST": 200, "N_VAL": 50, "AL_START": 20, "AL_BATCH": 20,
         "AL_ROUNDS": 1, "N_SEEDS": 1}  # fmt: skip
ARGS = [a for k, v in QUICK.items() for a in ("--" + k.lower().replace("_", "-"), v)]
# the random strategy's committees (round 0 shared with the active one), then one active committee per round
N_TRAININGS = QUICK["COMMITTEE"] * QUICK["N_SEEDS"] * (1 + 2 * QUICK["AL_ROUNDS"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out, env = output_with_database(tmp_path_factory, "script6_al")
    first = run_script(SCRIPT6, *ARGS, env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    second = run_script(SCRIPT6, *ARGS, env=env)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    return out, first, second


def test_result_line_curves_and_figure(runs):
    out, first, _ = runs
    r = result_of(first)
    labels = QUICK["AL_START"] + QUICK["AL_ROUNDS"] * QUICK["AL_BATCH"]
    assert r["labels"] == labels
    for key in ("active_force_mae_kcal_mol_A", "random_force_mae_kcal_mol_A"):
        assert 0 < r[key] < 50
    # the lesson's claim (active learning wins on the worst 5 %): a run where it does not says so
    lost = r["active_worst5_kcal_mol_A"] >= r["random_worst5_kcal_mol_A"]
    noted = "note: here active learning did not beat random choice" in first.stdout
    assert noted == lost, first.stdout[-1500:]
    run1, _ = sorted((out / "results" / "script6_active_learning").glob("run_*"))  # one per run
    summary = json.loads((run1 / "results.json").read_text())
    curves = summary["active_learning"]
    assert curves["labels"] == [
        QUICK["AL_START"] + k * QUICK["AL_BATCH"] for k in range(QUICK["AL_ROUNDS"] + 1)
    ]
    assert curves["active_seed0"]["mae"][0] == curves["random_seed0"]["mae"][0]  # the same start
    assert curves["active_seed0"]["mae"][-1] == pytest.approx(r["active_force_mae_kcal_mol_A"], abs=6e-4)
    assert summary["trainings"] == {"trained": N_TRAININGS, "reused": 0}
    assert summary["relabel"] == {}  # RELABEL = 0: no PBE
    assert (out / "figures" / "active_learning.png").stat().st_size > 10_000
    assert (run1 / "active_learning.png").stat().st_size > 10_000


def test_rerun_reuses_every_training(runs):
    _, first, second = runs
    assert f"trainings: {N_TRAININGS} trained, 0 reused" in first.stdout
    assert f"trainings: 0 trained, {N_TRAININGS} reused" in second.stdout
    same = lambda r: {k: v for k, v in r.items() if k != "total_s"}  # noqa: E731
    assert same(result_of(second)) == same(result_of(first))


@pytest.mark.parametrize(
    "args, message",
    [
        (("--n-test", "0"), "N_TEST must be at least 1 here: both strategies are scored on the same N_TEST"),
        (("--al-start", "1800"), "AL_START + AL_ROUNDS x AL_BATCH = 1820 labels"),
    ],
)
def test_a_bad_value_is_a_one_line_error(args, message, tmp_path, tmp_path_factory):
    env = {"ML_TUTORIAL_OUTPUT": str(tmp_path)}
    if "--al-start" in args:  # a check against the database's size: it needs the database
        _, env = output_with_database(tmp_path_factory, "script6_al_bad")
    res = run_script(SCRIPT6, *ARGS, *args, env=env)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr[-1000:]
    assert not (Path(env["ML_TUTORIAL_OUTPUT"]) / "results").exists()  # nothing written
