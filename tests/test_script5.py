"""schnet_tutorial/script5_uncertainty.py with reduced settings (--quick): a committee's disagreement
against its true error, MD with the committee at two temperatures, active learning against random
choice; the second run reuses every training and keeps the first run's files; one-line errors.

The quick committees are small and briefly trained (far from the default's accuracy), but real:
their disagreement already ranks the test frames by error (a positive Spearman correlation).
"""

import hashlib
import json
import math
import re

import pytest
from ase.io import read

from common import settings
from conftest import ROOT, output_with_database, run_script

TUT = ROOT / "schnet_tutorial"
SCRIPT5 = TUT / "script5_uncertainty.py"
QUICK = settings.QUICK["script5_uncertainty"]
RESULT = re.compile(
    r"^result: spearman_rho=(?P<rho>\S+) active_force_mae_kcal_mol_A=(?P<active>\S+) "
    r"random_force_mae_kcal_mol_A=(?P<random>\S+) labels=(?P<labels>\d+) active_worst5_kcal_mol_A=\S+ "
    r"random_worst5_kcal_mol_A=\S+ committee_force_mae_kcal_mol_A=(?P<committee>\S+) "
    r"flagged_300K_percent=(?P<cold>\S+) "
    r"flagged_1000K_percent=(?P<hot>\S+)$"
)
FIGURES = ("uncertainty_calibration.png", "uncertainty_md.png", "active_learning.png")
N_TRAININGS = QUICK["COMMITTEE"] * (1 + 1 + 2 * QUICK["AL_ROUNDS"])  # committee, round 0, then 2 per round


def digest(folder):
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def result_of(res):
    match = RESULT.match(res.stdout.strip().splitlines()[-1])
    assert match, res.stdout[-1500:]
    return {k: float(v) for k, v in match.groupdict().items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """script1's database, then script5 --quick twice into the same output folder."""
    out, env = output_with_database(tmp_path_factory, "script5")
    first = run_script(SCRIPT5, "--quick", env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    base = out / "results" / "script5_uncertainty"
    (run1,) = base.glob("run_*")
    before = digest(run1)
    second = run_script(SCRIPT5, "--quick", env=env)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    return out, first, second, run1, before


def test_result_line_figures_and_trajectories(runs):
    out, first, _, run1, _ = runs
    r = result_of(first)
    assert r["rho"] > 0  # the committee's disagreement ranks the test frames by their true error
    assert r["labels"] == QUICK["AL_START"] + QUICK["AL_ROUNDS"] * QUICK["AL_BATCH"]
    assert all(math.isfinite(r[k]) and 0 < r[k] < 50 for k in ("active", "random", "committee"))
    assert 0 <= r["cold"] <= 100 and 0 <= r["hot"] <= 100
    summary = json.loads((run1 / "results.json").read_text())
    assert summary["spearman_rho"] == pytest.approx(r["rho"], abs=0.006)
    curves = summary["active_learning"]
    assert curves["labels"] == [
        QUICK["AL_START"] + k * QUICK["AL_BATCH"] for k in range(QUICK["AL_ROUNDS"] + 1)
    ]
    assert curves["active_seed0"]["mae"][0] == curves["random_seed0"]["mae"][0]  # the same start
    assert curves["active_seed0"]["mae"][-1] == pytest.approx(r["active"], abs=6e-4)
    assert len(summary["calibration"]["error_kcal_mol_A"]) == 10
    assert summary["trainings"] == {"trained": N_TRAININGS, "reused": 0}
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
    assert f"trainings: {N_TRAININGS} trained, 0 reused" in first.stdout
    assert f"trainings: 0 trained, {N_TRAININGS} reused" in second.stdout
    assert result_of(second) == result_of(first)  # the same models: the same numbers
    assert digest(run1) == before  # the first run's figures and results.json are untouched
    run2 = [p for p in run1.parent.glob("run_*") if p != run1]
    assert len(run2) == 1 and (run2[0] / "results.json").is_file()


def test_a_bad_value_is_a_one_line_error(tmp_path):
    res = run_script(SCRIPT5, "--quick", "--committee", "1", env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    message = "COMMITTEE must be an integer >= 2, got 1"
    assert res.returncode != 0 and "Traceback" not in res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr[-1000:]
    assert not (tmp_path / "results").exists()  # nothing written


def test_layout_five_cells_with_prose():
    """Imports, settings, ONE set-up line, then the five cells of the other scripts, each with prose."""
    lines = SCRIPT5.read_text().splitlines()
    settings_line = lines.index(next(ln for ln in lines if ln.startswith("# %% Settings")))
    setup_line = lines.index('setup(globals(), "script5_uncertainty")  # command-line overrides and checks')
    assert all(re.match(r"[A-Z0-9_, ]+ = ", ln) for ln in lines[settings_line + 1 : setup_line])
    cells = [i for i, ln in enumerate(lines) if ln.startswith("# %% ") and i > setup_line]
    assert [lines[i] for i in cells] == [
        "# %% 1 Data",
        "# %% 2 Model",
        "# %% 3 Cost function",
        "# %% 4 Find the parameters",
        "# %% 5 Look at the result",
    ]
    assert cells[0] == setup_line + 2 and all(lines[i + 1].startswith("# ") for i in cells)
    assert "__file__" not in "\n".join(lines) and "sys.path" not in "\n".join(lines)
