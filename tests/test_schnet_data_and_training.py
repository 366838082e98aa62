"""schnet_tutorial script1 (database) and script2 (training) on a few dozen frames."""

import re

import numpy as np
import pytest
from ase.io import write

from conftest import ROOT, run_script

TUT = ROOT / "schnet_tutorial"
SCRIPT1, SCRIPT2 = TUT / "script1_prepare_data.py", TUT / "script2_train_schnet.py"
EV_KCAL = 23.060548


@pytest.fixture(scope="module")
def small_xyz(tmp_path_factory):
    import sys

    sys.path.insert(0, str(TUT))
    from md_tools import read_structures

    frames = read_structures(TUT / "data" / "ethanol_pbe.xyz.gz", index=":40")
    path = tmp_path_factory.mktemp("data") / "small.xyz"
    write(str(path), frames, format="extxyz")
    return path, frames


def test_prepare_train_test_and_rerun(small_xyz, tmp_path):
    path, frames = small_xyz
    db = tmp_path / "small.db"
    res = run_script(SCRIPT1, "--data-file", path, "--db-path", db, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert db.is_file() and "40 frames of 9 atoms" in res.stdout
    e = [a.get_potential_energy() for a in frames]
    assert f"{min(e):.3f} .. {max(e):.3f} eV" in res.stdout
    again = run_script(SCRIPT1, "--data-file", path, "--db-path", db)
    assert again.returncode == 0 and "is up to date" in again.stdout

    models, runs = tmp_path / "models", tmp_path / "runs"
    common = ["--quick", "--db-path", db, "--models-dir", models, "--runs-dir", runs]
    first = run_script(SCRIPT2, *common, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout
    assert re.search(r"[\d,]+ trainable parameters", out)
    assert re.search(r"test energy MAE [\d.]+ kcal/mol \([\d.]+ meV\), RMSE", out)
    assert re.search(r"test force MAE [\d.]+ kcal/mol/Å \([\d.]+ meV/Å\), RMSE", out)
    assert (ROOT / "figures" / "schnet_parity.png").is_file()
    second = run_script(SCRIPT2, *common)
    assert second.returncode == 0, second.stderr[-3000:]
    saved = sorted(models.glob("*/best_model"))
    assert len(saved) == 2  # the rerun did not overwrite the first model
    split = np.load(saved[0].parent / "split.npz")
    assert len(split["train_idx"]) == 20 and len(split["val_idx"]) == 10
    assert len(split["test_idx"]) == 10
    assert not set(split["test_idx"]) & set(split["train_idx"])
    assert list(runs.rglob("events.out.tfevents.*"))

    # the saved model is a standard SchNetPack model: SpkCalculator loads it
    import schnetpack.transform as trn
    from schnetpack.interfaces import SpkCalculator

    calc = SpkCalculator(model=str(saved[0]), neighbor_list=trn.ASENeighborList(cutoff=5.0),
                         energy_unit="eV", position_unit="Ang")
    atoms = frames[int(split["test_idx"][0])].copy()
    atoms.calc = calc
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert forces.shape == (9, 3)
    assert abs(energy - np.mean(e)) < 50  # eV: offset restored, an absolute total energy


def test_md17_path_on_a_local_npz(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    z = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])
    from ase.build import molecule

    base = molecule("CH3CH2OH").positions
    R = base + rng.normal(0, 0.02, (n, 9, 3))
    E = -97000.0 + rng.normal(0, 1, (n, 1))          # kcal/mol, as in MD17
    F = rng.normal(0, 20, (n, 9, 3))                  # kcal/mol/Å
    npz = tmp_path / "md17_ethanol.npz"
    np.savez(npz, z=z, R=R, E=E, F=F)
    db = tmp_path / "md17.db"
    res = run_script(SCRIPT1, "--source", "md17", "--md17-file", npz, "--db-path", db, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{n} frames of 9 atoms" in res.stdout
    # energies are reported in eV: kcal/mol converted by SchNetPack's units
    assert f"{E.min() / EV_KCAL:.3f} .. {E.max() / EV_KCAL:.3f} eV" in res.stdout


@pytest.mark.parametrize("script, args, message", [
    (SCRIPT1, ["--source", "qm9"], "SOURCE must be one of"),
    (SCRIPT1, ["--data-file", "/nonexistent/x.xyz", "--db-path", "{tmp}/x.db"], "not found"),
    (SCRIPT1, ["--data-file", "{tmp}/corrupt.xyz", "--db-path", "{tmp}/c.db"], "cannot read"),
    (SCRIPT1, ["--source", "rmd17", "--md17-file", "{tmp}/nothing.npz", "--db-path", "{tmp}/r.db"],
     "MD17_FILE"),
    (SCRIPT2, ["--db-path", "{tmp}/missing.db"], "run script1_prepare_data.py first"),
    (SCRIPT2, ["--learning-rate", "-1"], "LEARNING_RATE must be > 0"),
    (SCRIPT2, ["--model", "nequip"], "MODEL must be one of"),
])
def test_bad_input_gives_one_line_error(script, args, message, tmp_path):
    (tmp_path / "corrupt.xyz").write_text("9\nnot an xyz file\nC 0 0\n")
    res = run_script(script, *[a.format(tmp=tmp_path) for a in args], cwd=tmp_path)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], res.stderr[-1500:]
