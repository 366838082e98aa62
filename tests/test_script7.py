"""schnet_tutorial/script7_vibrations.py with reduced settings: a model against PBE's minimum,
harmonic frequencies and the spectrum of its MD; two models in one figure; reruns; one-line errors;
a bond that breaks in the MD (5000 K) ends the run with one line, its trajectory and results kept.

The model is a small PaiNN (script2 --quick) trained for a few seconds on 300 of the bundled frames
(script1 and script2 as a user runs them): far from PBE, but a real model that holds ethanol together
in a short MD run.
"""

import hashlib
import json
import math
import re

import numpy as np
import pytest
from ase.io import read, write

from conftest import ROOT, run_script
from schnet_tutorial.helpers import dataset, vibrations

TUT = ROOT / "schnet_tutorial"
SCRIPT1, SCRIPT2, SCRIPT7 = (
    TUT / f"{name}.py" for name in ("script1_prepare_data", "script2_train_schnet", "script7_vibrations")
)
# the reduced settings (common.settings.QUICK["script7_vibrations"])
ARGS = ["--md-steps", "1000", "--correlation-fs", "200"]
REFERENCE = json.loads((TUT / "data" / "ethanol_pbe_normal_modes.json").read_text())
RESULT = re.compile(r"^result: freq_mae_cm1=(\S+) freq_max_err_cm1=(\S+) rmsd_A=(\S+)$")
FIGURES = ("schnet_vibrations_modes.png", "schnet_vibrations_md_spectrum.png")


def digest(folder):
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An output folder holding script1's database of 300 frames and a model script2 trained on it."""
    out = tmp_path_factory.mktemp("script6")
    env = {"ML_TUTORIAL_OUTPUT": str(out)}
    write(str(out / "small.xyz"), dataset.read_frames(dataset.DATA_FILE, index=":300"), format="extxyz")
    res = run_script(SCRIPT1, "--data-file", out / "small.xyz", "--db-path", out / "small.db", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    res = run_script(SCRIPT2, "--quick", "--db-path", out / "small.db", "--n-test", "50", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    (model,) = (out / "schnet_tutorial" / "models").glob("*/best_model")
    return out, env, model


@pytest.fixture(scope="module")
def first_run(trained):
    out, env, model = trained
    res = run_script(SCRIPT7, *ARGS, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    (run_dir,) = (out / "results" / "script7_vibrations").iterdir()
    return res, run_dir, digest(run_dir)


def test_result_line_and_frequency_table(first_run, trained):
    res, run_dir, _ = first_run
    last = res.stdout.strip().splitlines()[-1]
    mae, max_err, rmsd = map(float, RESULT.match(last).groups())
    assert all(math.isfinite(v) for v in (mae, max_err, rmsd))
    assert 0 < mae <= max_err and 0 < rmsd < 0.5  # Å: a real model moves the atoms a little, not apart
    results = json.loads((run_dir / "results.json").read_text())
    (model,) = results["models"]
    assert model["path"] == str(trained[2])  # the newest script2 model is the default
    freqs = np.array(model["model_cm1"])
    assert freqs.shape == (21,) and np.isfinite(freqs).all()
    np.testing.assert_allclose(results["pbe_cm1"], REFERENCE["frequencies_cm1"], atol=0.01)
    assert results["mode_names"] == REFERENCE["mode_names"]
    errors = np.abs(freqs - results["pbe_cm1"])
    assert errors.mean() == pytest.approx(mae, abs=0.01) and errors.max() == pytest.approx(max_err, abs=0.01)
    # the printed table: one row per mode, PBE's frequency and name in it, and the bond lengths
    for name, pbe in zip(REFERENCE["mode_names"], REFERENCE["frequencies_cm1"]):
        assert re.search(rf"^\s*\d+ {re.escape(name)}\s+{pbe:.1f} ", res.stdout, re.M), name
    assert "O2-H3" in res.stdout and "RMSD to PBE" in res.stdout
    assert model["md_steps"] == 1000 and abs(model["drift_meV_per_atom"]) < 5  # --quick: 1000 NVE steps
    # an imaginary mode (a negative frequency) is never silent: a note names it below the table
    assert ("imaginary mode" in res.stdout) == bool((freqs < 0).any()), freqs


def test_an_imaginary_mode_is_named_and_explained():
    assert vibrations.imaginary_note("m", np.array([250.0, 400.0])) == ""
    note = vibrations.imaginary_note("m", np.array([-88.4, 250.0, 400.0]))
    assert note.startswith("note: m has 1 imaginary mode (-88 cm^-1, plotted as negative frequencies)")
    assert "saddle point, not a minimum" in note
    assert "2 imaginary modes (-120, -88 cm^-1" in vibrations.imaginary_note("m", [-120.0, -88.0, 250.0])


def test_figures_trajectories_and_mode_movie(first_run, trained):
    _, run_dir, _ = first_run
    out = trained[0]
    for name in FIGURES:
        assert (out / "figures" / name).stat().st_size > 10_000
        assert (run_dir / name).stat().st_size > 10_000
    md = read(str(run_dir / "md_model1.traj"), ":")
    assert len(md) == 1000 // 20 + 1 and md[0].get_chemical_symbols() == ["C", "C", "O"] + ["H"] * 6
    (movie,) = run_dir.glob("pbe_mode*.traj")
    assert len(read(str(movie), ":")) == 30


def test_two_models_and_a_rerun_keeps_the_earlier_output(first_run, trained):
    _, run_dir, before = first_run
    out, env, model = trained
    res = run_script(SCRIPT7, *ARGS, "--model-file", model.parent, "--model-file-2", model, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert digest(run_dir) == before  # the first run's files are untouched
    new = next(p for p in run_dir.parent.iterdir() if p != run_dir and (p / "results.json").is_file())
    results = json.loads((new / "results.json").read_text())
    assert [m["label"] for m in results["models"]] == ["model 1", "model 2"]
    # the same model twice: the same frequencies (the figure shows both)
    np.testing.assert_allclose(
        results["models"][0]["model_cm1"], results["models"][1]["model_cm1"], atol=1e-6
    )
    assert (new / "md_model2.traj").is_file() and all((new / f).is_file() for f in FIGURES)
    last = res.stdout.strip().splitlines()[-1]
    assert re.match(
        r"^result: freq_mae_cm1=\S+ freq_max_err_cm1=\S+ rmsd_A=\S+ model2_freq_mae_cm1=\S+ "
        r"model2_freq_max_err_cm1=\S+ model2_rmsd_A=\S+$",
        last,
    ), last


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "run script2_train_schnet.py first"),
        (("--model-file", "no/such/model"), "model file not found"),
        (("--md-steps", "100", "--correlation-fs", "1000"), "CORRELATION_FS"),
    ],
)
def test_one_line_errors(args, message, tmp_path):
    res = run_script(SCRIPT7, *ARGS, *args, env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    assert res.returncode != 0 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], res.stderr[-1000:]
    assert not (tmp_path / "results" / "script7_vibrations").exists()  # nothing written


def test_a_broken_bond_ends_with_one_line_and_keeps_the_trajectory(trained, tmp_path):
    """Issue 21: at 5000 K the quick model's MD breaks a bond: md.StabilityMonitor (script3's rule)
    stops it, the frequencies, figures, results and the trajectory up to there are kept, and the run
    ends with one line (no 'generator raised StopIteration')."""
    out, env, _ = trained
    runs = out / "results" / "script7_vibrations"
    before = set(runs.iterdir())
    res = run_script(SCRIPT7, *ARGS, "--temperature-k", "5000", env=env)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the MD of ") and "blew up: bond" in last and "md_model1.traj" in last, last
    assert RESULT.match(res.stdout.strip().splitlines()[-1])  # the harmonic results stand
    (run_dir,) = set(runs.iterdir()) - before
    model = json.loads((run_dir / "results.json").read_text())["models"][0]
    assert model["md_stopped"].startswith("bond ") and 0 < model["md_steps"] < 1000
    frames = read(str(run_dir / "md_model1.traj"), ":")
    assert len(frames) == model["md_steps"] // 20 + 2  # every 20th step, then the broken geometry
    assert all((run_dir / f).is_file() for f in FIGURES)
