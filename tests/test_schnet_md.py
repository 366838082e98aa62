"""MD with a SchNetPack model: schnet_tutorial/md_tools.py and schnet_tutorial/script3_run_md.py.

The models here are small and untrained (random weights): enough to check the mechanics (loading,
calculators, forces = -dE/dR, trajectories, reruns, error handling) in seconds.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.io import read, write
from ase.io.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
SCRIPT3 = ROOT / "schnet_tutorial" / "script3_run_md.py"
sys.path.insert(0, str(ROOT / "schnet_tutorial"))
import md_tools  # noqa: E402

import schnetpack as spk  # noqa: E402
import schnetpack.transform as trn  # noqa: E402
from schnetpack.interfaces import SpkCalculator  # noqa: E402

CUTOFF = 5.0


def make_model(kind="schnet", seed=0, shared=False, atomwise_act=None, centered_rbf=False,
               atomrefs=False):
    """A small random-weight SchNetPack potential with the usual energy postprocessors."""
    torch.manual_seed(seed)
    if centered_rbf:
        rbf = spk.nn.GaussianRBFCentered(n_rbf=8, cutoff=CUTOFF)
    else:
        rbf = spk.nn.GaussianRBF(n_rbf=12, cutoff=CUTOFF)
    if kind == "schnet":
        rep = spk.representation.SchNet(n_atom_basis=16, n_interactions=2, radial_basis=rbf,
                                        cutoff_fn=spk.nn.CosineCutoff(CUTOFF), n_filters=24,
                                        shared_interactions=shared)
    else:
        rep = spk.representation.PaiNN(n_atom_basis=8, n_interactions=1, radial_basis=rbf,
                                       cutoff_fn=spk.nn.CosineCutoff(CUTOFF))
    kwargs = {} if atomwise_act is None else {"activation": atomwise_act}
    refs = torch.linspace(-2.0, 2.0, 100) if atomrefs else None
    model = spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=rep.n_atom_basis, output_key="energy", **kwargs),
                        spk.atomistic.Forces(energy_key="energy", force_key="forces")],
        postprocessors=[trn.CastTo64(),
                        trn.AddOffsets("energy", add_mean=True, add_atomrefs=atomrefs,
                                       property_mean=torch.tensor([-34.5]), atomrefs=refs)],
    )
    # make the random network less trivial than zero biases
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.3)
    return model.eval()


def ethanol(rattle=0.05, seed=1):
    atoms = molecule("CH3CH2OH")
    atoms.rattle(rattle, seed=seed)
    return atoms


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Model files (torch.save of the whole model, as spktrain and script2 write them) and data."""
    d = tmp_path_factory.mktemp("md")
    paths = {}
    gentle = make_model()  # small forces: a random network must not tear ethanol apart in 20 steps
    with torch.no_grad():
        gentle.output_modules[0].outnet[-1].weight.mul_(0.01)
    for name, model in {"schnet": gentle, "painn": make_model("painn")}.items():
        (d / name).mkdir()
        paths[name] = d / name / "best_model"
        torch.save(model, paths[name])
    # a small data file (extxyz, eV and eV/Å) and a split next to the SchNet model
    frames = []
    for k in range(6):
        a = ethanol(rattle=0.03, seed=10 + k)
        a.info["energy"] = -100.0 - k
        a.info["frame"] = k
        frames.append(a)
    paths["data"] = d / "ethanol_small.xyz"
    write(paths["data"], frames, format="extxyz")
    np.savez(d / "schnet" / "split.npz", train_idx=np.array([0, 1, 2]), val_idx=np.array([3]),
             test_idx=np.array([4]))
    paths["start"] = d / "start.xyz"
    write(paths["start"], ethanol())
    paths["dir"] = d
    return paths


def run_script3(*args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(SCRIPT3), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def error_lines(stderr):
    """stderr without Python warnings (the error itself must be exactly one line)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return [ln for ln in lines if "Warning" not in ln and not ln.startswith("  ")]


# ------------------------------------------------------------------ calculators
def test_saved_model_loads_in_spkcalculator(files):
    calc = SpkCalculator(model=str(files["schnet"]), neighbor_list=trn.ASENeighborList(cutoff=CUTOFF),
                         energy_unit="eV")
    atoms = ethanol()
    atoms.calc = calc
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert np.isfinite(energy) and forces.shape == (9, 3)
    assert np.abs(forces).max() > 1e-4  # a random network still has forces
    # the same file through md_tools.load_model
    model = md_tools.load_model(files["schnet"])
    assert md_tools.model_cutoff(model) == pytest.approx(CUTOFF)
    assert md_tools.NumpySchNet.unsupported(model) is None
    assert md_tools.load_model(files["schnet"].parent) is not None  # a folder with best_model


def spk_reference(model, atoms, dtype):
    calc = SpkCalculator(model=model, neighbor_list=trn.ASENeighborList(cutoff=CUTOFF),
                         energy_unit="eV", dtype=dtype)
    a = atoms.copy()
    a.calc = calc
    return a.get_potential_energy(), a.get_forces()


@pytest.mark.parametrize("variant", [
    {},
    {"shared": True, "atomrefs": True},
    {"atomwise_act": spk.nn.shifted_softplus, "centered_rbf": True},
])
def test_numpy_schnet_matches_spkcalculator(variant):
    import copy

    model = make_model(seed=3, **variant)
    atoms = ethanol(rattle=0.1)
    calc = md_tools.make_calculator(copy.deepcopy(model), atoms, energy_unit="eV")
    assert calc.backend == "numpy"
    atoms.calc = calc
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    e64, f64 = spk_reference(copy.deepcopy(model), atoms, torch.float64)
    assert energy == pytest.approx(e64, rel=1e-12, abs=1e-10)
    np.testing.assert_allclose(forces, f64, rtol=0, atol=1e-10 * np.abs(f64).max())
    e32, f32 = spk_reference(copy.deepcopy(model), atoms, torch.float32)  # SpkCalculator's default
    assert energy == pytest.approx(e32, rel=1e-5)
    np.testing.assert_allclose(forces, f32, rtol=0, atol=1e-5 * np.abs(f64).max())


def test_numpy_schnet_pairs_beyond_cutoff_match_neighbour_list():
    import copy

    model = make_model(seed=5)
    atoms = ethanol()
    atoms.positions[2:] += [0.0, 0.0, 4.0]  # pull O and Hs away: some pairs now beyond 5 Å
    d = atoms.get_all_distances()
    assert (d > CUTOFF).any()
    calc = md_tools.make_calculator(copy.deepcopy(model), atoms)
    atoms.calc = calc
    e64, f64 = spk_reference(copy.deepcopy(model), atoms, torch.float64)
    assert atoms.get_potential_energy() == pytest.approx(e64, rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), f64, atol=1e-10 * np.abs(f64).max())


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_forces_are_minus_energy_gradient(backend):
    model = make_model(seed=7)
    atoms = ethanol(rattle=0.1)
    calc = md_tools.make_calculator(model, atoms, kind=backend)
    potential = calc.potential
    R = atoms.positions.copy()
    _, forces = potential(R)
    h = 1e-4  # Å, central differences in float64
    fd = np.zeros_like(R)
    for i in range(len(R)):
        for k in range(3):
            Rp, Rm = R.copy(), R.copy()
            Rp[i, k] += h
            Rm[i, k] -= h
            fd[i, k] = -(potential(Rp)[0] - potential(Rm)[0]) / (2 * h)
    np.testing.assert_allclose(forces, fd, rtol=0, atol=1e-6 * np.abs(fd).max())
    assert np.abs(forces.sum(axis=0)).max() < 1e-9 * np.abs(forces).max()  # no net force


def test_torch_backend_runs_painn_and_matches_spkcalculator(files):
    import copy

    model = md_tools.load_model(files["painn"])
    assert "PaiNN" in md_tools.NumpySchNet.unsupported(model)
    atoms = ethanol(rattle=0.1)
    calc = md_tools.make_calculator(copy.deepcopy(model), atoms)  # auto -> torch for PaiNN
    assert calc.backend == "torch"
    atoms.calc = calc
    e64, f64 = spk_reference(copy.deepcopy(model), atoms, torch.float64)
    assert atoms.get_potential_energy() == pytest.approx(e64, rel=1e-10)
    np.testing.assert_allclose(atoms.get_forces(), f64, atol=1e-9 * np.abs(f64).max())
    with pytest.raises(md_tools.MDSetupError, match="plain SchNet"):
        md_tools.make_calculator(model, atoms, kind="numpy")


def test_calculator_recomputes_only_when_positions_change():
    atoms = ethanol()
    calc = md_tools.make_calculator(make_model(seed=2), atoms)
    calls = []
    inner = calc.potential
    calc.potential = lambda R: calls.append(1) or inner(R)
    atoms.calc = calc
    e1 = atoms.get_potential_energy()
    f1 = atoms.get_forces()
    assert len(calls) == 1
    f1[0, 0] = 123.0  # callers get copies, the cache stays intact
    assert atoms.get_forces()[0, 0] != 123.0 and len(calls) == 1
    atoms.positions[3, 1] += 0.01  # in-place change, as MD integrators do
    e2 = atoms.get_potential_energy()
    assert len(calls) == 2 and e2 != e1
    atoms.set_positions(atoms.positions)  # same values: no new calculation
    atoms.get_forces()
    assert len(calls) == 2


def test_energy_unit_conversion():
    atoms = ethanol()
    model = make_model(seed=4)
    ev = md_tools.make_calculator(model, atoms, energy_unit="eV")
    kcal = md_tools.make_calculator(model, atoms, energy_unit="kcal/mol")
    e_ev, f_ev = ev.potential(atoms.positions)
    a = atoms.copy()
    a.calc = kcal
    assert a.get_potential_energy() == pytest.approx(e_ev * 0.0433641, rel=1e-5)
    np.testing.assert_allclose(a.get_forces(), f_ev * 0.0433641, rtol=1e-5)


def test_model_energy_unit_from_json_next_to_the_model(tmp_path):
    import json

    (tmp_path / "best_model").write_bytes(b"")
    assert md_tools.model_energy_unit(tmp_path / "best_model") == "eV"  # the tutorial's default
    (tmp_path / "notes.json").write_text("[1, 2]")
    (tmp_path / "run.json").write_text(json.dumps({"units": {"energy": "kcal/mol"}}))
    assert md_tools.model_energy_unit(tmp_path / "best_model") == "kcal/mol"
    assert md_tools.model_energy_unit(tmp_path) == "kcal/mol"


def test_load_model_errors_are_one_line(tmp_path, files):
    with pytest.raises(md_tools.MDSetupError, match="model file not found"):
        md_tools.load_model(tmp_path / "nope" / "best_model")
    with pytest.raises(md_tools.MDSetupError, match="no model file 'best_model'"):
        md_tools.load_model(tmp_path)
    junk = tmp_path / "junk_model"
    junk.write_text("this is not a model\n")
    with pytest.raises(md_tools.MDSetupError, match="is not a SchNetPack model file") as err:
        md_tools.load_model(junk)
    assert "\n" not in str(err.value)
    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "epoch": 3}, ckpt)
    with pytest.raises(md_tools.MDSetupError, match="Lightning checkpoint"):
        md_tools.load_model(ckpt)
    energy_only = make_model()
    energy_only.output_modules = torch.nn.ModuleList([energy_only.output_modules[0]])
    energy_only.collect_outputs()
    torch.save(energy_only, tmp_path / "energy_only")
    with pytest.raises(md_tools.MDSetupError, match="needs 'energy' and 'forces'"):
        md_tools.load_model(tmp_path / "energy_only")


def test_start_geometry_from_test_split_and_gzip_files(tmp_path, files):
    import gzip
    import shutil

    gz = tmp_path / "frames.xyz.gz"
    with open(files["data"], "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    frames = md_tools.read_structures(gz)
    assert len(frames) == 6 and frames[5].info["frame"] == 5
    split = files["schnet"].parent / "split.npz"
    atoms, origin = md_tools.start_geometry(None, gz, split, seed=0)
    assert atoms.info["frame"] == 4 and "test set" in origin
    atoms, origin = md_tools.start_geometry(f"{gz}@2")
    assert atoms.info["frame"] == 2
    atoms, origin = md_tools.start_geometry(None, gz, tmp_path / "no_split.npz", seed=0)
    assert "no split file" in origin
    with pytest.raises(md_tools.MDSetupError, match="data file not found"):
        md_tools.start_geometry(None, tmp_path / "missing.xyz.gz")


# ------------------------------------------------------------------ stability and files
def test_stability_monitor_catches_broken_and_squeezed_bonds_and_drift():
    atoms = ethanol(rattle=0.0)
    monitor = md_tools.StabilityMonitor(atoms, max_stretch=1.5, max_compress=0.6)
    atoms.calc = md_tools.make_calculator(make_model(), atoms)
    monitor.check()  # the start is fine
    assert len(monitor.d0) == 8  # ethanol has 8 bonds
    stretched = atoms.copy()
    stretched.calc = atoms.calc
    h = int(np.flatnonzero(stretched.numbers == 1)[0])
    partner = monitor.bi[monitor.bj == h][0] if (monitor.bj == h).any() else monitor.bj[monitor.bi == h][0]
    stretched.positions[h] += 0.8 * (stretched.positions[h] - stretched.positions[partner])
    mon2 = md_tools.StabilityMonitor(atoms)
    mon2.atoms = stretched
    with pytest.raises(md_tools.MDBlowUpError, match="stretched"):
        mon2.check()
    squeezed = atoms.copy()
    squeezed.calc = atoms.calc
    squeezed.positions[h] -= 0.5 * (squeezed.positions[h] - squeezed.positions[partner])
    mon2.atoms = squeezed
    with pytest.raises(md_tools.MDBlowUpError, match="compressed"):
        mon2.check()
    drift = md_tools.StabilityMonitor(atoms, max_drift_ev_per_atom=0.01)
    drift.check()
    atoms.set_momenta(np.full((9, 3), 3.0))  # kinetic energy jumps: total energy not conserved
    with pytest.raises(md_tools.MDBlowUpError, match="drifted"):
        drift.check()


def test_archive_previous_never_overwrites(tmp_path):
    a, b = tmp_path / "simulation.traj", tmp_path / "simulation.log"
    assert md_tools.archive_previous([a, b]) == []
    a.write_text("first")
    b.write_text("first log")
    moved = md_tools.archive_previous([a, b], stamp="20250101-000000")
    assert [m[1].name for m in moved] == ["simulation_20250101-000000.traj",
                                          "simulation_20250101-000000.log"]
    a.write_text("second")
    moved = md_tools.archive_previous([a, b], stamp="20250101-000000")  # same second
    assert moved[0][1].name == "simulation_20250101-000000_2.traj"
    assert (tmp_path / "simulation_20250101-000000.traj").read_text() == "first"
    assert (tmp_path / "simulation_20250101-000000_2.traj").read_text() == "second"


# ------------------------------------------------------------------ script3 end to end
def test_script3_runs_writes_files_and_rerun_keeps_previous(files, tmp_path):
    out, figs = tmp_path / "ase_calcs", tmp_path / "figures"
    common = ["--model", files["schnet"], "--data-file", files["data"], "--out-dir", out,
              "--figures-dir", figs, "--steps", 20, "--traj-interval", 5]
    first = run_script3(*common, "--write-gif", "true", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "frame 4 (test set" in first.stdout  # the split's only test frame
    assert "ase gui" in first.stdout and "Tools -> Movie -> Play" in first.stdout
    assert "steps/s" in first.stdout
    with Trajectory(str(out / "simulation.traj")) as traj:
        frames = list(traj)
    assert len(frames) == 20 // 5 + 1
    assert frames[-1].get_forces().shape == (9, 3)
    assert np.isfinite(frames[-1].get_potential_energy())
    assert not np.allclose(frames[0].positions, frames[-1].positions)  # atoms moved
    log = (out / "simulation.log").read_text()
    assert "Etot[eV]" in log and len(log.strip().splitlines()) == 1 + 1 + 20 // 10 + 1
    assert (figs / "schnet_md_energies.png").stat().st_size > 10_000
    from PIL import Image
    with Image.open(out / "simulation.gif") as gif:
        assert gif.n_frames == 5

    second = run_script3(*common, "--thermostat", "nve", "--start", files["start"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Kept the previous simulation.traj as simulation_" in second.stdout
    assert "meV/atom" in second.stdout
    kept = sorted(out.glob("simulation_*.traj"))
    assert len(kept) == 1 and len(sorted(out.glob("simulation_*.log"))) == 1
    assert len(sorted(out.glob("simulation_*.gif"))) == 1
    with Trajectory(str(kept[0])) as traj:
        assert np.allclose(traj[0].positions, frames[0].positions)  # the first run, intact
    with Trajectory(str(out / "simulation.traj")) as traj:
        assert len(traj) == 5
        start = read(files["start"])
        assert np.allclose(traj[0].positions - traj[0].positions.mean(0),
                           start.positions - start.positions.mean(0))


def test_script3_stops_a_blown_up_run_and_keeps_the_trajectory(files, tmp_path):
    out = tmp_path / "ase_calcs"
    # default data: a test-split frame (index 4, see the fixture) of the bundled ethanol file
    res = run_script3("--model", files["schnet"], "--out-dir", out,
                      "--figures-dir", tmp_path, "--timestep-fs", 10, "--temperature-k", 5000,
                      "--steps", 200, cwd=tmp_path)
    assert "ethanol_pbe.xyz.gz, frame 4 (test set" in res.stdout, res.stdout + res.stderr
    assert res.returncode != 0
    lines = error_lines(res.stderr)
    assert len(lines) == 1, res.stderr
    assert "blew up" in lines[0] and "TIMESTEP_FS" in lines[0]
    with Trajectory(str(out / "simulation.traj")) as traj:
        n = len(traj)
    assert 1 <= n < 200 // 5 + 1  # stopped early, what was written is readable
    assert "# STOPPED" in (out / "simulation.log").read_text()


@pytest.mark.parametrize("args, message", [
    (["--model", "{dir}/missing/best_model"], "model file not found"),
    (["--model", "{dir}/ethanol_small.xyz", "--start", "{dir}/start.xyz"],
     "is not a SchNetPack model file"),
    (["--model", "{dir}/schnet/best_model", "--steps", "0"], "STEPS must be a positive"),
    (["--model", "{dir}/schnet/best_model", "--steps", "1e3"], "STEPS must be an integer"),
    (["--model", "{dir}/schnet/best_model", "--timestep", "1"], "unknown option '--timestep'"),
    (["--model", "{dir}/schnet/best_model", "--thermostat", "nose"], "THERMOSTAT must be one of"),
    (["--model", "{dir}/schnet/best_model", "--start", "{dir}/nope.xyz"], "start geometry file not found"),
])
def test_script3_bad_input_gives_one_line_error(files, tmp_path, args, message):
    args = [a.format(dir=files["dir"]) for a in args]
    res = run_script3(*args, "--out-dir", tmp_path / "o", "--figures-dir", tmp_path, cwd=tmp_path)
    assert res.returncode != 0
    lines = error_lines(res.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert not (tmp_path / "o" / "simulation.traj").exists()
