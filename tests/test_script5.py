"""schnet_tutorial/script5_uncertainty.py with reduced settings: a committee's disagreement against its
true error on the test frames, its calibration, MD with the committee at two temperatures; the second
run reuses every training and keeps the first run's files; one-line errors; the page's layout.

The quick committee is small and briefly trained (far from the default's accuracy), but real: its
disagreement already ranks the test frames by error (a positive Spearman correlation).
"""

import hashlib
import json
import math
import re

import numpy as np
import pytest
from ase.io import read

from conftest import ROOT, output_with_database, result_of, run_script

TUT = ROOT / "schnet_tutorial"
SCRIPT5 = TUT / "script5_uncertainty.py"
# the reduced settings (common.settings.QUICK["script5_uncertainty"] once it holds them)
QUICK = {"COMMITTEE": 2, "N_TRAIN": 200, "STEPS": 150, "N_TEST": 200, "N_VAL": 50, "MD_STEPS": 100}
ARGS = [a for k, v in QUICK.items() for a in ("--" + k.lower().replace("_", "-"), v)]
FIGURES = ("uncertainty_calibration.png", "uncertainty_md.png")


def digest(folder):
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """script1's database, then script5 with the reduced settings twice into the same output folder."""
    out, env = output_with_database(tmp_path_factory, "script5")
    first = run_script(SCRIPT5, *ARGS, env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    (run1,) = (out / "results" / "script5_uncertainty").glob("run_*")
    before = digest(run1)
    second = run_script(SCRIPT5, *ARGS, env=env)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    return out, first, second, run1, before


def test_result_line_figures_and_trajectories(runs):
    out, first, _, run1, _ = runs
    r = result_of(first)
    assert list(r) == [
        "spearman_rho", "committee_force_mae_kcal_mol_A", "member_force_mae_kcal_mol_A",
        "error_over_disagreement", "threshold_kcal_mol_A", "flagged_300K_percent", "flagged_1000K_percent",
        "total_s",
    ]  # fmt: skip
    assert r["spearman_rho"] > 0  # the committee's disagreement ranks the test frames by their true error
    assert 0 < r["committee_force_mae_kcal_mol_A"] <= r["member_force_mae_kcal_mol_A"] + 1e-3 < 50
    assert math.isfinite(r["error_over_disagreement"]) and r["error_over_disagreement"] > 0
    assert 0 <= r["flagged_300K_percent"] <= 100 and 0 <= r["flagged_1000K_percent"] <= 100
    summary = json.loads((run1 / "results.json").read_text())
    assert summary["result"]["spearman_rho"] == r["spearman_rho"]
    assert summary["settings"]["COMMITTEE"] == QUICK["COMMITTEE"]
    assert len(summary["calibration"]["error_kcal_mol_A"]) == 10
    assert summary["trainings"] == {"trained": QUICK["COMMITTEE"], "reused": 0}
    for name in FIGURES:
        assert (out / "figures" / name).stat().st_size > 10_000
        assert (run1 / name).stat().st_size > 10_000
    for temperature in ("300K", "1000K"):
        trajs = sorted((out / "schnet_tutorial" / "ase_calcs").glob(f"uncertainty_{temperature}_*.traj"))
        assert len(trajs) == 2  # one per run: the second run did not overwrite the first
        frames = read(str(trajs[0]), ":")
        assert len(frames) == QUICK["MD_STEPS"] // 5 + 1 and frames[0].get_chemical_formula() == "C2H6O"
        log = trajs[0].with_suffix(".log").read_text().splitlines()
        assert log[1].startswith("# time_fs") and len(log) == 2 + len(frames)


def test_rerun_reuses_every_training_and_keeps_the_first_run(runs):
    _, first, second, run1, before = runs
    n = QUICK["COMMITTEE"]
    assert f"trainings: {n} trained, 0 reused" in first.stdout
    assert f"trainings: 0 trained, {n} reused" in second.stdout
    same = lambda r: {k: v for k, v in r.items() if k != "total_s"}  # noqa: E731
    assert same(result_of(second)) == same(result_of(first))  # the same models: the same numbers
    assert digest(run1) == before  # the first run's figures and results.json are untouched
    run2 = [p for p in run1.parent.glob("run_*") if p != run1]
    assert len(run2) == 1 and (run2[0] / "results.json").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--n-bins", "300"), "N_BINS (300) must not exceed N_TEST (200)"),
        (("--n-test", "0"), "N_TEST must be at least 1 here: every member is tested on the same N_TEST"),
        ((), "run script1_prepare_data.py first"),
    ],
)
def test_a_bad_value_is_a_one_line_error(args, message, tmp_path):
    res = run_script(SCRIPT5, *ARGS, *args, env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    assert res.returncode != 0 and "Traceback" not in res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr[-1000:]
    assert not (tmp_path / "results").exists()  # nothing written


def test_disagreement_is_schnetpacks_absolute_uncertainty():
    from schnetpack.interfaces.ase_interface import AbsoluteUncertainty

    from schnet_tutorial.helpers import committee

    forces = np.random.default_rng(0).normal(size=(4, 3, 9, 3))  # members, frames, atoms, xyz
    expected = [AbsoluteUncertainty()({"energy": np.zeros(4), "forces": forces[:, i]}) for i in range(3)]
    np.testing.assert_allclose(committee.disagreement(forces), expected)


@pytest.mark.parametrize("script", ["script5_uncertainty", "script6_active_learning", "script7_vibrations"])
def test_layout_five_cells_with_prose(script):
    """Imports, settings, ONE set-up line, then the five cells of the other scripts, each with prose,
    on a page of at most 300 lines."""
    lines = (TUT / f"{script}.py").read_text().splitlines()
    assert len(lines) <= 300
    settings_line = lines.index(next(ln for ln in lines if ln.startswith("# %% Settings")))
    setup_line = lines.index(f'setup(globals(), "{script}")  # command-line overrides and checks')
    block = lines[settings_line + 1 : setup_line]
    assert all(re.match(r"[A-Z0-9_, ]+ = ", ln) or ln == "# Hardware" for ln in block), block
    cells = [i for i, ln in enumerate(lines) if ln.startswith("# %% ") and i > setup_line]
    assert [lines[i] for i in cells] == [
        "# %% 1 Data",
        "# %% 2 Model",
        "# %% 3 Cost function",
        "# %% 4 Find the parameters",
        "# %% 5 Look at the result",
        "# %% Exercises",  # comments only (tests/test_solutions_lj.py checks it)
    ]
    assert cells[0] == setup_line + 2 and all(lines[i + 1].startswith("# ") for i in cells)
    assert "__file__" not in "\n".join(lines) and "sys.path" not in "\n".join(lines)
