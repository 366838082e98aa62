"""Issue 11, the SchNet cases: nothing silently wrong, and each problem one line ``error: ...``.

A model never runs MD on a molecule it never saw; a foreign model brings its energy unit (and a wrong
one is named as such, not blamed on the time step); Ctrl-C in script2 keeps the best model so far
(marked as interrupted) or says that nothing was saved; folders that cannot be written stop the
scripts before any work, and a write error after training keeps the model elsewhere.
Each test checks the exit code, the one-line message, and that nothing earlier was lost or replaced.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ase.build import molecule
from ase.io import write

from conftest import HANG_S, ROOT, output_with_database, run_script

from schnet_tutorial.helpers import dataset, model_files  # isort: skip (first: it quiets SchNetPack's import)

TUT = ROOT / "schnet_tutorial"
SCRIPT1, SCRIPT2 = TUT / "script1_prepare_data.py", TUT / "script2_train_schnet.py"
SCRIPT3, SCRIPT7 = TUT / "script3_run_md.py", TUT / "script7_vibrations.py"


def run_in(folder, script, *args, **kwargs):
    """Run a script with all its outputs under ``folder`` (ML_TUTORIAL_OUTPUT), from ``folder``."""
    return run_script(script, *args, cwd=folder, env={"ML_TUTORIAL_OUTPUT": str(folder)}, **kwargs)


def lines_of(stderr, kind="error"):
    """The stderr lines that start with 'error: ' (or 'warning: '); Python's own warnings left out."""
    return [ln for ln in stderr.strip().splitlines() if ln.startswith(f"{kind}: ")]


def one_error(res, code=2):
    """The one error line of a script that stopped with ``code``; nothing else on stderr but warnings."""
    assert res.returncode == code, res.stderr[-3000:]
    errors = lines_of(res.stderr)
    assert len(errors) == 1, res.stderr[-3000:]
    assert not [ln for ln in res.stderr.splitlines() if ln.startswith("Traceback")], res.stderr[-3000:]
    return errors[0]


def tree(folder):
    """Every file under ``folder`` with its bytes (to check that nothing was lost or replaced)."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The bundled database (script1) and a model of script2 with the quick settings (in eV)."""
    out, _ = output_with_database(tmp_path_factory, "trained")
    res = run_in(out, SCRIPT2, "--quick")
    assert res.returncode == 0, res.stderr[-2000:]
    (model_dir,) = (out / "schnet_tutorial" / "models").iterdir()
    water = out / "water.xyz"
    write(str(water), molecule("H2O"))
    return {
        "out": out,
        "model": model_dir,
        "db": out / "schnet_tutorial" / "data" / "ethanol.db",
        "water": water,
    }


def copy_model(trained, folder, name="model", info=True):
    """A copy of the trained model folder (without model_info.json: a foreign model)."""
    target = folder / name
    shutil.copytree(trained["model"], target)
    if not info:
        (target / "model_info.json").unlink()
        (target / "split.npz").unlink()
    return target


def md_files(folder):
    return sorted((folder / "schnet_tutorial" / "ase_calcs").glob("simulation_*"))


# ------------------------------------------------------------------ 1 a molecule the model never saw
def test_ethanol_model_refuses_water_and_script7_refuses_a_water_model(trained, tmp_path):
    # script2 records the data, the elements and the molecules
    info = json.loads((trained["model"] / "model_info.json").read_text())
    assert info["elements"] == [1, 6, 8] and info["molecules"] == ["C2H6O"] and info["data_source"]
    assert info["interrupted"] is False

    res = run_in(tmp_path, SCRIPT3, "--quick", "--model-file", trained["model"], "--start", trained["water"])
    line = one_error(res)
    assert "trained on C2H6O only" in line and "H2O is a molecule it never saw" in line, line
    assert not md_files(tmp_path)

    # a model trained on water (its model_info.json says so) on a plain run: the start frame of its
    # database is ethanol, with carbon it never saw
    water_model = copy_model(trained, tmp_path, "water_model")
    info_file = water_model / "model_info.json"
    info_file.write_text(json.dumps({**info, "elements": [1, 8], "molecules": ["H2O"]}))
    before = tree(water_model)
    res = run_in(tmp_path, SCRIPT3, "--quick", "--model-file", water_model)
    line = one_error(res)
    assert "trained on H, O only" in line and "C2H6O has C, which it never saw" in line, line
    assert not md_files(tmp_path) and tree(water_model) == before
    res = run_in(tmp_path, SCRIPT7, "--quick", "--model-file", water_model)
    line = one_error(res)
    assert "ethanol C2H6O has C, which it never saw" in line, line
    assert not (tmp_path / "results" / "script7_vibrations").exists() or not any(
        (tmp_path / "results" / "script7_vibrations").iterdir()
    )


def test_foreign_model_elements_from_its_run_folder_or_a_warning(trained, tmp_path):
    foreign = copy_model(trained, tmp_path, "spk_run", info=False)
    # no model_info.json, no config.yaml: the elements are unknown -> one warning line, and it runs
    res = run_in(tmp_path, SCRIPT3, "--quick", "--md-steps", 5, "--model-file", foreign / "best_model")
    assert res.returncode == 0, res.stderr[-3000:]
    (warning,) = lines_of(res.stderr, "warning")
    assert "elements the model" in warning and "are unknown" in warning and "C2H6O" in warning
    assert not lines_of(res.stderr)
    # spktrain's config.yaml names its database: the elements and molecules come from there
    (foreign / "config.yaml").write_text(f"data:\n  datapath: {trained['db']}\n")
    res = run_in(
        tmp_path, SCRIPT3, "--quick", "--model-file", foreign / "best_model", "--start", trained["water"]
    )
    line = one_error(res)
    assert "trained on C2H6O only (its data ethanol.db)" in line and "never saw" in line, line
    assert not lines_of(res.stderr, "warning")
    assert len([p for p in md_files(tmp_path) if p.suffix == ".traj"]) == 1  # the first run's, intact


def test_start_frame_beyond_the_file_names_the_frame_count(trained, tmp_path):
    res = run_in(
        tmp_path, SCRIPT3, "--quick", "--model-file", trained["model"], "--start", f"{trained['water']}@999"
    )
    line = one_error(res)
    assert "water.xyz has 1 frames (0 to 0); got @999" in line, line
    assert not md_files(tmp_path)


# ------------------------------------------------------------------ 2 a foreign model's energy unit
def kcal_model_folder(trained, folder, unit_line):
    """An spktrain-like run folder: best_model predicting kcal/mol (the eV model scaled by 23.06) and
    a config.yaml with its database and (``unit_line``) data.property_units.energy."""
    run = copy_model(trained, folder, "spktrain_run", info=False)
    model = torch.load(run / "best_model", weights_only=False)
    with torch.no_grad():
        last = model.output_modules[0].outnet[-1]
        last.weight.mul_(dataset.EV_TO_KCAL_PER_MOL)
        last.bias.mul_(dataset.EV_TO_KCAL_PER_MOL)
        model.postprocessors[1].mean.mul_(dataset.EV_TO_KCAL_PER_MOL)
    torch.save(model, run / "best_model")
    (run / "config.yaml").write_text(f"data:\n  datapath: {trained['db']}\n{unit_line}")
    return run


def energy_of(res) -> float:
    """The first potential energy (eV) script3 printed."""
    return float(res.stdout.split("potential energy ")[1].split(" eV")[0])


def test_foreign_model_units_from_config_yaml(trained, tmp_path):
    run = kcal_model_folder(
        trained, tmp_path, "  property_units:\n    energy: kcal/mol\n    forces: kcal/mol/Ang\n"
    )
    res = run_in(tmp_path, SCRIPT3, "--quick", "--md-steps", 10, "--model-file", run / "best_model")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "energies in kcal/mol" in res.stdout and not lines_of(res.stderr, "warning")
    # the energy in eV: the same as the eV model's on the same frame
    first = energy_of(res)

    def md_from_frame_0(model):
        return run_in(
            tmp_path,
            SCRIPT3,
            "--quick",
            "--md-steps",
            10,
            "--model-file",
            model,
            "--start",
            f"{dataset.DATA_FILE}@0",
        )

    ev, run_k = md_from_frame_0(trained["model"]), md_from_frame_0(run / "best_model")
    assert ev.returncode == 0 and run_k.returncode == 0, ev.stderr[-2000:] + run_k.stderr[-2000:]
    e_ev, e_k = energy_of(ev), energy_of(run_k)
    assert e_k == pytest.approx(e_ev, abs=1e-3) and first < -4000


def test_wrong_energy_unit_is_named_not_the_time_step(trained, tmp_path):
    # a kcal/mol model whose config.yaml does not say so (taken as eV)
    run = kcal_model_folder(trained, tmp_path, "")
    before = tree(run)
    res = run_in(tmp_path, SCRIPT3, "--quick", "--model-file", run / "best_model")
    line = one_error(res)
    assert line.startswith("error: unit mismatch") and "predicts kcal/mol, not eV" in line, line
    assert "--energy-unit kcal/mol" in line and "TIMESTEP" not in line
    # our eV model forced to kcal/mol
    res = run_in(tmp_path, SCRIPT3, "--quick", "--model-file", trained["model"], "--energy-unit", "kcal/mol")
    line = one_error(res)
    assert "unit mismatch" in line and "predicts eV, not kcal/mol" in line, line
    assert not md_files(tmp_path) and tree(run) == before


# ------------------------------------------------------------------ 3 Ctrl-C in script2
def logged(folder, tag) -> int:
    """How many values of the scalar ``tag`` script2's TensorBoard run under ``folder`` holds so far."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    count = 0
    for run in (folder / "runs").glob("*"):
        events = EventAccumulator(str(run))
        events.Reload()
        count += len(events.Scalars(tag)) if tag in events.Tags()["scalars"] else 0
    return count


def interrupt_script2(folder, db, tag, count, *args):
    """Start a long script2 training (2000 epochs), send SIGINT (Ctrl-C) once its TensorBoard run holds
    ``count`` values of ``tag`` (a count of steps or validations, not seconds: the interrupt lands
    inside the training on any machine), and return (exit code, stdout, stderr)."""
    env = dict(os.environ, MPLBACKEND="Agg", ML_TUTORIAL_OUTPUT=str(folder))
    cmd = [sys.executable, str(SCRIPT2), "--quick", "--db-path", str(db), "--epochs", "2000", *map(str, args)]
    proc = subprocess.Popen(
        cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + HANG_S
        while logged(folder, tag) < count and proc.poll() is None:
            assert time.monotonic() < deadline, f"hang: no {count} x {tag} in {HANG_S} s"
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


def test_ctrl_c_keeps_the_best_model_so_far_marked_interrupted(trained, tmp_path):
    # after 5 validated epochs (the quick model's 5): the best model so far is a usable one
    code, out, err = interrupt_script2(tmp_path, trained["db"], "1_loss/validation", 5)
    assert code == 0, err[-3000:]
    (warning,) = lines_of(err, "warning")
    assert "training interrupted (Ctrl-C) after" in warning and "marked as interrupted" in warning
    assert not lines_of(err) and "model saved (interrupted)" in out
    (model_dir,) = (tmp_path / "schnet_tutorial" / "models").iterdir()
    info = json.loads((model_dir / "model_info.json").read_text())
    # (the epoch of the 5th validation may not be counted as done yet)
    assert info["interrupted"] is True and 4 <= info["results"]["epochs_done"] < 2000
    # script3 uses it, and says so
    res = run_in(tmp_path, SCRIPT3, "--quick", "--md-steps", 5)
    assert res.returncode == 0, res.stderr[-3000:]
    (warning,) = [w for w in lines_of(res.stderr, "warning") if "reduced settings" not in w]
    assert "was interrupted (Ctrl-C)" in warning and "of 2000 epochs" in warning


def test_ctrl_c_before_any_validation_saves_nothing_and_leaves_no_folder(trained, tmp_path):
    earlier = copy_model(trained, tmp_path / "schnet_tutorial" / "models", "earlier")
    before = tree(earlier)
    # a training loss logged: inside the training (the first validation would come after 1000 epochs)
    code, out, err = interrupt_script2(tmp_path, trained["db"], "1_loss/train", 1, "--val-every", 1000)
    assert code == 2, err[-3000:]
    errors = lines_of(err)
    assert errors == [
        "error: training interrupted (Ctrl-C) before its first validation: nothing was saved"
    ], err
    assert [p.name for p in (tmp_path / "schnet_tutorial" / "models").iterdir()] == ["earlier"]
    assert tree(earlier) == before and model_files.newest_model(earlier.parent) == earlier / "best_model"


# ------------------------------------------------------------------ 4 folders that cannot be written
def test_unwritable_model_and_md_folders_stop_before_any_work(trained, tmp_path):
    (tmp_path / "schnet_tutorial").mkdir()
    (tmp_path / "schnet_tutorial" / "models").write_text("a file where the folder should be\n")
    (tmp_path / "schnet_tutorial" / "ase_calcs").write_text("a file where the folder should be\n")
    db_before = trained["db"].read_bytes()
    res = run_in(tmp_path, SCRIPT2, "--quick", "--db-path", trained["db"])
    line = one_error(res)
    assert "cannot write into" in line and "models (a file is in its place)" in line, line
    assert "inputs ready" not in res.stdout and not (tmp_path / "runs").exists()
    res = run_in(tmp_path, SCRIPT3, "--quick", "--model-file", trained["model"])
    line = one_error(res)
    assert "cannot write into" in line and "ase_calcs (a file is in its place)" in line, line
    assert "start geometry" not in res.stdout
    res = run_in(tmp_path, SCRIPT1, "--db-path", tmp_path / "schnet_tutorial" / "models" / "x.db")
    line = one_error(res)
    assert "cannot write into" in line and "models (a file is in its place)" in line, line
    assert trained["db"].read_bytes() == db_before
    assert (tmp_path / "schnet_tutorial" / "models").read_text().startswith("a file")


def test_write_error_after_training_keeps_the_model_elsewhere(trained, tmp_path, capsys):
    model_dir = copy_model(trained, tmp_path, "model", info=True)
    (model_dir / "model_info.json").unlink()
    (model_dir / "model_info.json").mkdir()  # writing the file fails, as on a full disk
    with pytest.raises(SystemExit) as stop:
        model_files.save_model_info(model_dir, trained["db"], [], -467.0, {"CUTOFF": 5.0}, {})
    assert stop.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: cannot write into {model_dir}") and "kept in " in line, line
    spare = Path(line.split("kept in ")[1].split(";")[0])
    try:
        assert (spare / "best_model").read_bytes() == (trained["model"] / "best_model").read_bytes()
        assert (spare / "split.npz").is_file()
        assert model_files.load_model(spare) is not None
    finally:
        shutil.rmtree(spare, ignore_errors=True)


# ------------------------------------------------------------------ 5 issue 26: what a careless student meets
def test_a_model_that_learned_nothing_is_said_at_every_use_and_no_rmsd_of_zero(trained, tmp_path):
    """A model marked "learned nothing" (here one that predicts no forces at all: its last layer zeroed,
    as with a cutoff shorter than every bond) warns in script3 and script7; script7's BFGS cannot move
    the atoms, and its RMSD is no result (nan), never 0.0000 Å."""
    model = copy_model(trained, tmp_path, "nothing")
    net = torch.load(model / "best_model", weights_only=False)
    with torch.no_grad():
        for param in net.output_modules[0].outnet[-1].parameters():
            param.zero_()
    torch.save(net, model / "best_model")
    info = json.loads((model / "model_info.json").read_text())
    results = info["results"]
    info["learned"], results["force_mae_kcal_mol_A"] = False, results["zero_force_mae_kcal_mol_A"]
    (model / "model_info.json").write_text(json.dumps(info))
    res = run_in(tmp_path, SCRIPT3, "--quick", "--md-steps", 5, "--model-file", model)
    assert res.returncode == 0, res.stderr[-3000:]
    (warning,) = [w for w in lines_of(res.stderr, "warning") if "learned nothing" in w]
    assert "nothing (script2 refused it)" in warning and "use a better trained model" in warning
    # (not run_script: the figures of a model without forces, all frequencies 0, are not what is checked)
    args = ["--md-steps", "20", "--correlation-fs", "5", "--model-file", str(model)]
    env = dict(os.environ, MPLBACKEND="Agg", ML_TUTORIAL_OUTPUT=str(tmp_path))
    command = [sys.executable, str(SCRIPT7), *args]
    res = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode == 0, res.stderr[-3000:]
    assert [w for w in lines_of(res.stderr, "warning") if "learned nothing" in w]
    assert "0 BFGS steps" in res.stdout
    assert "RMSD to PBE nan Å - NOT A RESULT: BFGS took no step" in res.stdout
    assert "RMSD to PBE 0.0000" not in res.stdout
    assert res.stdout.strip().splitlines()[-1].endswith(" rmsd_A=nan")


def test_a_missing_or_broken_pbe_reference_is_one_line(tmp_path, capsys):
    from schnet_tutorial.helpers import vibrations

    broken = tmp_path / "broken.json"
    broken.write_text('{"numbers": [1')
    partial = tmp_path / "partial.json"
    partial.write_text('{"numbers": [1, 1]}')
    cases = ((tmp_path / "gone.json", "is missing"), (broken, "cannot be read"), (partial, "lacks"))
    for path, says in cases:
        with pytest.raises(SystemExit) as stop:
            vibrations.load_reference(path)
        assert stop.value.code == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"error: the PBE reference {path} {says}") and "git checkout --" in line
        assert "make_normal_modes.py" in line


def test_start_frame_forms(tmp_path, capsys):
    """--start file@3, @-1 and @last (the last frame, named by its number); another form is one line."""
    from schnet_tutorial.helpers import md

    frames = dataset.read_frames(dataset.DATA_FILE, index=":3")
    path = tmp_path / "three.xyz"
    write(str(path), frames, format="extxyz")
    for form, k in (("", 0), ("@1", 1), ("@-1", 2), ("@last", 2), ("@first", 0)):
        atoms, origin = md.start_geometry(f"{path}{form}", None)
        assert origin == f"{path}, frame {k}" and abs(atoms.positions - frames[k].positions).max() < 1e-9
    with pytest.raises(SystemExit):
        md.start_geometry(f"{path}@end", None)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: START ") and "(0 the first, -1 or last the last), got @end" in line
