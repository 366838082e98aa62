"""MD with a SchNetPack model: schnet_tutorial.helpers.md and model_files (calculators, checks, files),
script3_run_md.py, plus script2 and script3 run as notebooks.

The models here are small and untrained (random weights): enough to check the mechanics (loading,
calculators, forces = -dE/dR, trajectories, reruns, error handling) in seconds.
"""

import copy
import json

import numpy as np
import pytest
import schnetpack as spk
import schnetpack.transform as trn
import torch
from ase import units
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from ase.io.trajectory import Trajectory
from schnetpack.interfaces import SpkCalculator

from conftest import ROOT, notebook_images, output_with_database, run_notebook, run_script

from schnet_tutorial.helpers import dataset, md, model_files  # isort: skip (first: it quiets SchNetPack's import)

TUT = ROOT / "schnet_tutorial"
SCRIPT1, SCRIPT2, SCRIPT3 = (TUT / f"script{k}.py" for k in ("1_prepare_data", "2_train_schnet", "3_run_md"))
CUTOFF = 5.0


def make_model(kind="schnet", seed=0, shared=False, atomwise_act=None, centered_rbf=False, atomrefs=False):
    """A small random-weight SchNetPack potential with the usual energy postprocessors."""
    torch.manual_seed(seed)
    if centered_rbf:
        rbf = spk.nn.GaussianRBFCentered(n_rbf=8, cutoff=CUTOFF)
    else:
        rbf = spk.nn.GaussianRBF(n_rbf=12, cutoff=CUTOFF)
    if kind == "schnet":
        rep = spk.representation.SchNet(
            n_atom_basis=16,
            n_interactions=2,
            radial_basis=rbf,
            cutoff_fn=spk.nn.CosineCutoff(CUTOFF),
            n_filters=24,
            shared_interactions=shared,
        )
    else:
        rep = spk.representation.PaiNN(
            n_atom_basis=8, n_interactions=1, radial_basis=rbf, cutoff_fn=spk.nn.CosineCutoff(CUTOFF)
        )
    kwargs = {} if atomwise_act is None else {"activation": atomwise_act}
    refs = torch.linspace(-2.0, 2.0, 100) if atomrefs else None
    model = spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=rep.n_atom_basis, output_key="energy", **kwargs),
            spk.atomistic.Forces(energy_key="energy", force_key="forces"),
        ],
        postprocessors=[
            trn.CastTo64(),
            trn.AddOffsets(
                "energy",
                add_mean=True,
                add_atomrefs=atomrefs,
                property_mean=torch.tensor([-34.5]),
                atomrefs=refs,
            ),
        ],
    )
    with torch.no_grad():  # make the random network less trivial than zero biases
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.3)
    return model.eval()


def ethanol(rattle=0.05, seed=1):
    atoms = molecule("CH3CH2OH")
    atoms.rattle(rattle, seed=seed)
    return atoms


def spk_reference(model, atoms, dtype):
    calc = SpkCalculator(
        model=copy.deepcopy(model),
        neighbor_list=trn.ASENeighborList(cutoff=CUTOFF),
        energy_unit="eV",
        dtype=dtype,
    )
    a = atoms.copy()
    a.calc = calc
    return a.get_potential_energy(), a.get_forces()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Model folders as script2 writes them (best_model, split.npz, model_info.json naming the
    database), a PaiNN model file alone (as a foreign model), a small database and a start file."""
    d = tmp_path_factory.mktemp("md")
    frames = []
    for k in range(6):
        a = ethanol(rattle=0.03, seed=10 + k)
        a.info["frame"] = k
        a.calc = SinglePointCalculator(a, energy=-100.0 - k, forces=np.zeros((9, 3)))
        frames.append(a)
    paths = {"dir": d, "db": d / "small.db", "start": d / "start.xyz", "data": d / "frames.xyz"}
    dataset.build_database(frames, paths["db"])
    write(paths["data"], frames, format="extxyz")
    write(paths["start"], ethanol())
    gentle = make_model()  # small forces: a random network must not tear ethanol apart in 20 steps
    with torch.no_grad():
        gentle.output_modules[0].outnet[-1].weight.mul_(0.01)
    for name, model in {"schnet": gentle, "painn": make_model("painn")}.items():
        (d / name).mkdir()
        paths[name] = d / name / "best_model"
        torch.save(model, paths[name])
    np.savez(d / "schnet" / "split.npz", train_idx=[0, 1, 2], val_idx=[3], test_idx=[4])
    (d / "schnet" / "model_info.json").write_text(
        json.dumps(
            {
                "energy_unit": "eV",
                "database": str(paths["db"]),
                "database_fingerprint": dataset.database_fingerprint(paths["db"]),
                "elements": [1, 6, 8],
            }
        )
    )
    return paths


def error_lines(stderr):
    """stderr without Python warnings (the error itself must be exactly one line)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return [ln for ln in lines if "Warning" not in ln and not ln.startswith("  ")]


def one_line_error(capsys, call):
    """The message of a function that stops the script (common.settings.fail)."""
    with pytest.raises(SystemExit):
        call()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# ------------------------------------------------------------------ calculators
@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"shared": True, "atomrefs": True},
        {"atomwise_act": spk.nn.shifted_softplus, "centered_rbf": True},
        {"kind": "painn"},
    ],
)
def test_fast_calculator_matches_spkcalculator(variant):
    """script3's calculator (the model itself, inputs built once) = SchNetPack's SpkCalculator."""
    model = make_model(seed=3, **variant)
    atoms = ethanol(rattle=0.1)
    atoms.calc = md.make_calculator(copy.deepcopy(model), atoms, "eV")
    assert isinstance(atoms.calc, md.MoleculeCalculator)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    e64, f64 = spk_reference(model, atoms, torch.float64)
    assert energy == pytest.approx(e64, rel=1e-12, abs=1e-10)
    np.testing.assert_allclose(forces, f64, rtol=0, atol=1e-10 * np.abs(f64).max())
    e32, f32 = spk_reference(model, atoms, torch.float32)  # SpkCalculator's default
    assert energy == pytest.approx(e32, rel=1e-5)
    np.testing.assert_allclose(forces, f32, rtol=0, atol=1e-5 * np.abs(f64).max())
    atoms.positions[0] += 0.05  # after a step: still the same as SpkCalculator
    e64, f64 = spk_reference(model, atoms, torch.float64)
    assert atoms.get_potential_energy() == pytest.approx(e64, rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), f64, rtol=0, atol=1e-10 * np.abs(f64).max())


@pytest.mark.parametrize("kind", ["schnet", "painn"])
def test_pairs_beyond_the_cutoff_change_nothing(kind):
    """The fast calculator keeps every pair; the cutoff function gives those beyond it zero weight."""
    model = make_model(kind, seed=5)
    atoms = ethanol()
    atoms.positions[2:] += [0.0, 0.0, 4.0]  # pull O and Hs away: some pairs now beyond 5 Å
    assert (atoms.get_all_distances() > CUTOFF).any()
    atoms.calc = md.make_calculator(copy.deepcopy(model), atoms)
    e64, f64 = spk_reference(model, atoms, torch.float64)
    assert atoms.get_potential_energy() == pytest.approx(e64, rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), f64, atol=1e-10 * np.abs(f64).max())


def test_forces_are_minus_energy_gradient():
    atoms = ethanol(rattle=0.1)
    calc = md.make_calculator(make_model(seed=7), atoms)
    R = atoms.positions.copy()

    def energy(positions):
        a = atoms.copy()
        a.positions = positions
        return calc.get_potential_energy(a)

    forces = calc.get_forces(atoms)
    h, fd = 1e-4, np.zeros_like(R)  # Å, central differences in float64
    for i in range(len(R)):
        for k in range(3):
            Rp, Rm = R.copy(), R.copy()
            Rp[i, k] += h
            Rm[i, k] -= h
            fd[i, k] = -(energy(Rp) - energy(Rm)) / (2 * h)
    np.testing.assert_allclose(forces, fd, rtol=0, atol=1e-6 * np.abs(fd).max())
    assert np.abs(forces.sum(axis=0)).max() < 1e-9 * np.abs(forces).max()  # no net force


def test_calculator_recomputes_only_when_positions_change():
    atoms = ethanol()
    calc = md.make_calculator(make_model(seed=2), atoms)
    calls = []
    calc.model.register_forward_pre_hook(lambda module, args: calls.append(1))
    atoms.calc = calc
    e1 = atoms.get_potential_energy()
    f1 = atoms.get_forces()
    assert len(calls) == 1
    f1[0, 0] = 123.0  # callers get copies, the cache stays intact
    assert atoms.get_forces()[0, 0] != 123.0 and len(calls) == 1
    atoms.positions[3, 1] += 0.01  # in-place change, as MD integrators do
    assert atoms.get_potential_energy() != e1 and len(calls) == 2
    atoms.set_positions(atoms.positions)  # same values: no new calculation
    atoms.get_forces()
    assert len(calls) == 2


def test_energy_unit_conversion():
    atoms = ethanol()
    model = make_model(seed=4)
    a, b = atoms.copy(), atoms.copy()
    a.calc = md.make_calculator(copy.deepcopy(model), a, energy_unit="eV")
    b.calc = md.make_calculator(copy.deepcopy(model), b, energy_unit="kcal/mol")
    assert b.get_potential_energy() == pytest.approx(a.get_potential_energy() * 0.0433641, rel=1e-5)
    np.testing.assert_allclose(b.get_forces(), a.get_forces() * 0.0433641, rtol=1e-5)


def test_model_energy_unit_from_the_model_folder(tmp_path):
    (tmp_path / "best_model").write_bytes(b"")
    assert model_files.model_energy_unit(tmp_path / "best_model") == "eV"  # the tutorial's default
    (tmp_path / "config.yaml").write_text("data:\n  property_units:\n    energy: kcal/mol\n")  # spktrain's
    assert model_files.model_energy_unit(tmp_path / "best_model") == "kcal/mol"
    (tmp_path / "model_info.json").write_text(json.dumps({"energy_unit": "Hartree"}))  # script2's wins
    assert model_files.model_energy_unit(tmp_path) == "Hartree"


def test_load_model_errors_are_one_line(tmp_path, files, capsys):
    assert model_files.load_model(files["schnet"].parent) is not None  # a folder with best_model
    assert model_files.model_cutoff(model_files.load_model(files["painn"])) == pytest.approx(CUTOFF)
    assert "model file not found" in one_line_error(capsys, lambda: model_files.load_model(tmp_path / "nope"))
    junk = tmp_path / "junk_model"
    junk.write_text("this is not a model\n")
    assert "is not a SchNetPack model file" in one_line_error(capsys, lambda: model_files.load_model(junk))
    torch.save({"state_dict": {}, "epoch": 3}, tmp_path / "last.ckpt")
    assert "Lightning checkpoint" in one_line_error(
        capsys, lambda: model_files.load_model(tmp_path / "last.ckpt")
    )
    energy_only = make_model()
    energy_only.output_modules = torch.nn.ModuleList([energy_only.output_modules[0]])
    energy_only.collect_outputs()
    torch.save(energy_only, tmp_path / "energy_only")
    message = one_line_error(capsys, lambda: model_files.load_model(tmp_path / "energy_only"))
    assert "needs 'energy' and 'forces'" in message


def test_start_geometry(files, capsys):
    atoms, origin = md.start_geometry("", files["schnet"], seed=0)  # the split's only test frame
    assert "small.db, frame 4 (test set" in origin
    np.testing.assert_allclose(atoms.positions, ethanol(rattle=0.03, seed=14).positions)
    atoms, origin = md.start_geometry(f"{files['data']}@2", files["schnet"])
    assert atoms.info["frame"] == 2 and origin.endswith("frame 2")
    _, origin = md.start_geometry("", files["painn"])  # a model without model_info.json
    assert "ethanol_pbe.xyz.gz" in origin and "test frames are not known" in origin
    message = one_line_error(capsys, lambda: md.start_geometry(f"{files['data']}@99", files["schnet"]))
    assert "has 6 frames" in message


# ------------------------------------------------------------------ stability and files
def test_stability_monitor_catches_broken_and_squeezed_bonds_and_drift():
    class Dyn:
        nsteps, dt = 7, 0.5 * units.fs

    atoms = ethanol(rattle=0.0)
    atoms.calc = md.make_calculator(make_model(), atoms)
    monitor = md.StabilityMonitor(atoms, Dyn())
    monitor()  # the start is fine
    assert len(monitor.d0) == 8  # ethanol has 8 bonds
    h = int(np.flatnonzero(atoms.numbers == 1)[0])
    partner = monitor.bi[monitor.bj == h][0] if (monitor.bj == h).any() else monitor.bj[monitor.bi == h][0]
    for factor, word in ((0.8, "stretched"), (-0.5, "compressed")):
        moved = atoms.copy()
        moved.calc = atoms.calc
        moved.positions[h] += factor * (moved.positions[h] - moved.positions[partner])
        check = md.StabilityMonitor(atoms, Dyn())
        check.atoms = moved
        with pytest.raises(md.MDBlowUpError, match=rf"{word}.* at step 7 \(t = 3.5 fs\)"):
            check()
    drift = md.StabilityMonitor(atoms, Dyn(), max_drift=0.01)
    drift()
    atoms.set_momenta(np.full((9, 3), 3.0))  # kinetic energy jumps: total energy not conserved
    with pytest.raises(md.MDBlowUpError, match="drifted"):
        drift()


def test_md_files_are_never_shared(tmp_path):
    names = [md.new_md_files(tmp_path) for _ in range(3)]  # within one second
    assert len({t for t, _ in names}) == 3 and all(log.exists() for _, log in names)
    assert model_files.shown(tmp_path / "a b" / "x.traj").startswith('"')


# ------------------------------------------------------------------ script3 end to end
def test_script3_runs_writes_its_own_files_and_reruns(files, tmp_path):
    out = tmp_path / "schnet_tutorial" / "ase_calcs"
    env = {"ML_TUTORIAL_OUTPUT": str(tmp_path)}
    common = ["--model-file", files["schnet"], "--md-steps", 20, "--traj-interval", 5]
    first = run_script(SCRIPT3, *common, "--write-gif", "true", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "small.db, frame 4 (test set" in first.stdout  # the split's only test frame
    assert (
        "model: SchNet" in first.stdout
        and "ase gui" in first.stdout
        and "Tools -> Movie -> Play" in first.stdout
    )
    assert first.stdout.rstrip().splitlines()[-1].startswith("result: steps_per_s=")
    # 20 steps: the mean temperature is not yet the thermostat's, and the script says so
    assert "note: the second half of this run starts at 5 fs, before the thermostat" in first.stdout
    (traj1,) = out.glob("simulation_*.traj")
    with Trajectory(str(traj1)) as traj:
        frames = list(traj)
    assert len(frames) == 20 // 5 + 1 and frames[-1].get_forces().shape == (9, 3)
    assert np.isfinite(frames[-1].get_potential_energy())
    assert not np.allclose(frames[0].positions, frames[-1].positions)  # atoms moved
    log = traj1.with_suffix(".log").read_text()
    assert (
        "Etot[eV]" in log and "SchNet model" in log and len(log.strip().splitlines()) == 1 + 1 + 20 // 10 + 1
    )
    assert (tmp_path / "figures" / "schnet_md_energies.png").stat().st_size > 10_000
    assert (out / "simulation.traj").read_bytes() == traj1.read_bytes()  # the slide's file: the newest run
    from PIL import Image

    with Image.open(traj1.with_suffix(".gif")) as gif:
        assert gif.n_frames == 5

    # a PaiNN model (no model_info.json: a bundled start frame), NVE, a start file: its own files
    second = run_script(
        SCRIPT3,
        "--model-file",
        files["painn"],
        "--md-steps",
        20,
        "--thermostat",
        "nve",
        "--start",
        files["start"],
        cwd=tmp_path,
        env=env,
    )
    assert second.returncode == 0, second.stderr
    assert "model: PaiNN" in second.stdout and "meV/atom" in second.stdout
    assert "note: the second half" not in second.stdout  # NVE: no thermostat, no target
    traj2 = next(p for p in out.glob("simulation_*.traj") if p != traj1)
    assert "PaiNN model" in traj2.with_suffix(".log").read_text()
    with Trajectory(str(traj1)) as traj:
        assert np.allclose(traj[0].positions, frames[0].positions)  # the first run, intact
    with Trajectory(str(out / "simulation.traj")) as traj:
        start = read(files["start"])
        assert np.allclose(
            traj[0].positions - traj[0].positions.mean(0), start.positions - start.positions.mean(0)
        )


def test_script3_stops_a_blown_up_run_and_keeps_the_trajectory(files, tmp_path):
    res = run_script(
        SCRIPT3,
        "--model-file",
        files["schnet"],
        "--timestep-fs",
        10,
        "--temperature-k",
        5000,
        "--md-steps",
        200,
        cwd=tmp_path,
        env={"ML_TUTORIAL_OUTPUT": str(tmp_path)},
    )
    assert res.returncode == 1
    lines = error_lines(res.stderr)
    assert len(lines) == 1 and "blew up" in lines[0] and "TIMESTEP_FS" in lines[0], res.stderr
    (traj_path,) = (tmp_path / "schnet_tutorial" / "ase_calcs").glob("simulation_*.traj")
    with Trajectory(str(traj_path)) as traj:
        assert 1 <= len(traj) < 200 // 5 + 1  # stopped early, what was written is readable
    assert "# STOPPED" in traj_path.with_suffix(".log").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model-file", "{dir}/missing/best_model"], "model file not found"),
        (
            ["--model-file", "{dir}/frames.xyz", "--start", "{dir}/start.xyz"],
            "is not a SchNetPack model file",
        ),
        (["--model-file", "{dir}/schnet/best_model", "--md-steps", "0"], "MD_STEPS must be an integer >= 1"),
        (["--model-file", "{dir}/schnet/best_model", "--md-steps", "1e3"], "MD_STEPS must be an integer"),
        (["--model-file", "{dir}/schnet/best_model", "--timestep", "1"], "unknown option --timestep"),
        (["--model-file", "{dir}/schnet/best_model", "--thermostat", "nose"], "THERMOSTAT must be one of"),
        (
            ["--model-file", "{dir}/schnet/best_model", "--start", "{dir}/nope.xyz"],
            "start geometry file not found",
        ),
        (["--model-file", "{dir}/schnet/best_model", "--start", "{dir}/frames.xyz@9"], "has 6 frames"),
        ([], "no trained model in"),
    ],
)
def test_script3_bad_input_gives_one_line_error(files, tmp_path, args, message):
    args = [a.format(dir=files["dir"]) for a in args]
    res = run_script(SCRIPT3, *args, cwd=tmp_path, env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    assert res.returncode != 0
    lines = error_lines(res.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert not list((tmp_path / "schnet_tutorial" / "ase_calcs").glob("*.traj"))


# ------------------------------------------------------------------ Jupyter / VS Code
def test_script2_and_script3_run_as_notebooks(tmp_path_factory):
    """Converted with jupytext and run cell by cell in an IPython kernel (as Jupyter and VS Code do),
    with the reduced settings: both finish and show their figure inline."""
    tmp_path, _ = output_with_database(tmp_path_factory, "notebooks")  # script1's database, made once
    train = run_notebook(SCRIPT2, tmp_path)
    assert notebook_images(train) == 1  # the parity plot
    text = "".join(out.get("text", "") for cell in train.cells for out in cell.get("outputs", []))
    assert "1000 training" not in text and "200 training" in text and "result: energy_mae" in text
    md = run_notebook(SCRIPT3, tmp_path)
    assert notebook_images(md) == 1  # the energy / temperature figure
    text = "".join(out.get("text", "") for cell in md.cells for out in cell.get("outputs", []))
    assert "100 steps in" in text and "(test set: not used in training)" in text
    stderr = [
        o.get("text", "")
        for nb in (train, md)
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    ]
    assert not any("Warning" in text for text in stderr), stderr  # no library noise in the notebook
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {
        "schnet_parity.png",
        "schnet_md_energies.png",
    }
