"""schnet_tutorial script1 (database) and script2 (training), and schnet_tutorial.tools, on a few frames.

The scripts run as a user runs them (subprocesses, headless) with tiny settings; each test sends
every output (database, models, TensorBoard runs, figures) to its own temporary folder.
"""

import io
import json
import math
import os
import re
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from ase.build import molecule
from ase.io import write

from common.runs import table_definition
from conftest import ROOT, run_script

from schnet_tutorial.helpers import dataset, model_files  # isort: skip (first: it quiets SchNetPack's import)

TUT = ROOT / "schnet_tutorial"
SCRIPT1, SCRIPT2 = TUT / "script1_prepare_data.py", TUT / "script2_train_schnet.py"
SCRIPT3 = TUT / "script3_run_md.py"
EV_KCAL = 23.060548
N_FRAMES = 40
SMALL = ["--n-train", "20", "--n-val", "10"]  # of the 40 frames (the quick settings are for 2000)


def run_in(folder, script, *args, **kwargs):
    """Run a script with all its outputs under ``folder`` (ML_TUTORIAL_OUTPUT)."""
    return run_script(script, *args, env={"ML_TUTORIAL_OUTPUT": str(folder)}, **kwargs)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """The first 40 frames of the bundled PBE data as an extended XYZ file, and its database."""
    frames = dataset.read_frames(dataset.DATA_FILE, index=f":{N_FRAMES}")
    folder = tmp_path_factory.mktemp("data")
    path = folder / "small.xyz"
    write(str(path), frames, format="extxyz")
    db = folder / "small.db"
    res = run_in(folder, SCRIPT1, "--data-file", path, "--db-path", db, cwd=folder)
    assert res.returncode == 0, res.stderr[-2000:]
    return path, frames, db, res


def md17_arrays(n=12, seed=0):
    """Ethanol frames in MD17's units: energies kcal/mol, forces kcal/mol/Å."""
    rng = np.random.default_rng(seed)
    z = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])
    base = molecule("CH3CH2OH")
    order = np.argsort([{"C": 0, "O": 1, "H": 2}[s] for s in base.get_chemical_symbols()], kind="stable")
    R = base.positions[order] + rng.normal(0, 0.02, (n, 9, 3))
    E = -97000.0 + rng.normal(0, 1, n)
    F = rng.normal(0, 20, (n, 9, 3))
    return z, R, E, F


@pytest.mark.parametrize("script", [SCRIPT1, SCRIPT2, SCRIPT3], ids=lambda p: p.stem)
def test_script_has_the_lecture_layout(script):
    """Docstring with the slide; imports, settings, ONE set-up line, then the numbered cells with prose."""
    text = script.read_text()
    assert text.startswith(('"""', 'r"""')) and "slide" in text.split('"""')[1].lower()  # r: TeX math
    lines = text.splitlines()
    settings = lines.index(next(ln for ln in lines if ln.startswith("# %% Settings")))
    cells = [i for i, ln in enumerate(lines) if re.match(r"# %% \d ", ln)]
    setup_line = next(i for i, ln in enumerate(lines) if ln.startswith("setup(globals()"))
    assert cells[0] == setup_line + 2 and lines[setup_line + 1] == ""  # nothing between set-up and cell 1
    block = lines[settings + 1 : setup_line]  # only settings, and one comment above the hardware ones
    assert all(re.match(r"[A-Z0-9_, ]+ = ", ln) or ln.startswith("# Hardware") for ln in block)
    if "N_THREADS" in text:
        hardware = block[[ln.startswith("# Hardware") for ln in block].index(True) + 1 :]
        assert {ln.split(" = ")[0] for ln in hardware} <= {"N_THREADS", "ACCELERATOR", "DEVICES", "NUM_NODES",
                                                          "PROGRESS_BAR", "N_WORKERS"}  # fmt: skip
    assert [lines[i][5] for i in cells] == sorted(lines[i][5] for i in cells) and lines[cells[-1]] == (
        "# %% 5 Look at the result"
    )
    assert all(lines[i + 1].startswith("# ") for i in cells)  # each cell opens with prose
    assert "__file__" not in text and "sys.path" not in text and "noqa: E402" not in text


def test_script1_builds_reuses_and_rebuilds(small_data, tmp_path):
    path, frames, db, res = small_data
    assert db.is_file() and f"{N_FRAMES} frames of 9 atoms" in res.stdout
    e = np.array([a.get_potential_energy() for a in frames])
    f = np.concatenate([a.get_forces() for a in frames])
    assert f"energy {e.min():.3f} .. {e.max():.3f} eV" in res.stdout
    assert f"mean |F| per atom {np.linalg.norm(f, axis=1).mean():.3f} eV/Å" in res.stdout
    assert (db.parent / "figures" / "schnet_energy_histogram.png").is_file()
    # the database holds exactly the file's energies and forces, in eV and eV/Å
    e_db, f_db, n_atoms = dataset.read_energies_forces(db)
    assert n_atoms == 9
    np.testing.assert_allclose(e_db, e, rtol=0, atol=1e-9)
    np.testing.assert_allclose(f_db, f, rtol=0, atol=1e-9)

    again = run_in(tmp_path, SCRIPT1, "--data-file", path, "--db-path", db)
    assert again.returncode == 0 and "is up to date" in again.stdout and "building" not in again.stdout
    # a changed source file (here: only its time stamp) makes the database out of date
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
    changed = run_in(tmp_path, SCRIPT1, "--data-file", path, "--db-path", db)
    assert changed.returncode == 0 and "building" in changed.stdout
    forced = run_in(tmp_path, SCRIPT1, "--data-file", path, "--db-path", db, "--force", "true")
    assert forced.returncode == 0 and "building" in forced.stdout
    assert f"{N_FRAMES} frames of 9 atoms" in forced.stdout
    # a truncated database is rebuilt, not reported as up to date
    copy = tmp_path / "truncated.db"
    copy.write_bytes(db.read_bytes()[:4096])
    (tmp_path / "truncated.db.source.json").write_text((db.parent / "small.db.source.json").read_text())
    truncated = run_in(tmp_path, SCRIPT1, "--data-file", path, "--db-path", copy)
    assert truncated.returncode == 0 and "building" in truncated.stdout, truncated.stderr[-1000:]


def test_inputs_equal_schnetpacks_own_pipeline(small_data):
    """load_inputs (one query, all pairs within the cutoff) = ASEAtomsData + ASENeighborList."""
    import schnetpack as spk
    import schnetpack.transform as trn

    _, frames, db, _ = small_data
    idx = [7, 0, 31]
    (inputs,) = dataset.load_inputs(db, 2.5, idx)  # a cutoff shorter than the molecule
    library = spk.data.ASEAtomsData(str(db), transforms=[trn.ASENeighborList(cutoff=2.5)])
    for k, d in zip(idx, inputs):
        ref = library[k]
        assert int(d["_idx"]) == k
        for key in ("_atomic_numbers", "_positions", "energy", "forces", "_n_atoms", "_cell", "_pbc"):
            np.testing.assert_allclose(d[key].numpy(), ref[key].numpy(), rtol=1e-12, err_msg=key)
            assert d[key].dtype == ref[key].dtype, key
        pairs = set(zip(d["_idx_i"].tolist(), d["_idx_j"].tolist()))
        assert pairs == set(zip(ref["_idx_i"].tolist(), ref["_idx_j"].tolist()))
        assert 0 < len(pairs) < 72  # some pairs are beyond 2.5 Å
        assert float(d["energy"]) == pytest.approx(frames[k].get_potential_energy(), abs=1e-9)


def test_split_is_disjoint_complete_and_nested(capsys):
    tr, va, te = dataset.split(50, 20, 10, seed=3)
    assert (len(tr), len(va), len(te)) == (20, 10, 20)
    assert sorted(np.concatenate([tr, va, te])) == list(range(50))
    assert list(dataset.split(50, 20, 10, seed=3)[0]) == list(tr)  # seeded
    # a fixed test set: every training size and draw shares the validation and test frames
    small, va5, te5 = dataset.split(50, 10, 10, n_test=5, seed=3)
    large, va5b, te5b = dataset.split(50, 30, 10, n_test=5, seed=3)
    assert len(te5) == 5 and list(te5) == list(te5b) and list(va5) == list(va5b)
    assert set(small) < set(large)  # one draw's sets are nested
    other = dataset.split(50, 10, 10, n_test=5, seed=3, draw=1)[0]
    assert set(other) != set(small) and not set(other) & (set(va5) | set(te5))
    with pytest.raises(SystemExit):
        dataset.split(30, 20, 10)
    assert "needs more than the 30 frames" in capsys.readouterr().err


def spkmd_calculator_runs(model_file, atoms, reference_calc, steps=20):
    """SchNetPack's own MD (schnetpack.md: the engine behind the spkmd command) on a model file.

    Its calculator must load the file, give the forces ``reference_calc`` (SchNetPack's ASE
    calculator on the same file) gives, and run velocity Verlet steps. (The spkmd command itself
    cannot run from the PyPI wheel of SchNetPack 2.2.0: its hydra configs are missing from it.)
    """
    import schnetpack.transform as trn
    import torch
    from schnetpack import md
    from schnetpack.md.calculators import SchNetPackCalculator
    from schnetpack.md.neighborlist_md import NeighborListMD

    system = md.System()
    system.load_molecules(atoms, n_replicas=1, position_unit_input="Angstrom")
    calc = SchNetPackCalculator(
        str(model_file),
        force_key="forces",
        energy_unit="eV",
        position_unit="Angstrom",
        energy_key="energy",
        neighbor_list=NeighborListMD(cutoff=5.0, cutoff_shell=1.0, base_nbl=trn.ASENeighborList),
    )
    calc.calculate(system)
    ref = atoms.copy()
    ref.calc = reference_calc
    forces = calc.results["forces"].detach().numpy().reshape(-1, 3)  # eV/Å, the model's units
    np.testing.assert_allclose(forces, ref.get_forces(), atol=1e-5)
    md.MaxwellBoltzmannInit(300.0, remove_translation=True, remove_rotation=True).initialize_system(system)
    simulator = md.Simulator(system, md.integrators.VelocityVerlet(0.5), calc, progress=False)
    simulator.simulate(steps)
    assert simulator.step == steps and torch.isfinite(system.positions).all()


def tensorboard_scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_train_test_save_load_and_rerun(small_data, tmp_path):
    import schnetpack.transform as trn
    import torch
    from schnetpack.interfaces import SpkCalculator

    _, frames, db, _ = small_data
    # the slides' SchNet sizes on 20 frames for 3 epochs
    first = run_in(
        tmp_path,
        SCRIPT2,
        "--quick",
        *SMALL,
        "--model",
        "schnet",
        "--db-path",
        db,
        "--epochs",
        3,
        "--n-features",
        64,
        "--n-filters",
        32,
        "--n-interactions",
        3,
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout
    assert (
        "schnet: 3 interactions, 64 features, 32 filters, 20 Gaussians, cutoff 5.0 Å, silu: "
        "38,657 trainable parameters"
    ) in out  # the README's number
    assert f"{N_FRAMES} frames of 9 atoms: 20 training, 10 validation, 10 test" in out
    assert "trained 3 epochs" in out
    assert "learning rate 0.01 falling along a cosine to 0.0001 (LR_FINAL = 0.01 x LEARNING_RATE)" in out
    e_mae = float(re.search(r"test energy MAE ([\d.]+) kcal/mol \(([\d.]+) meV\), RMSE", out).group(2))
    f_mae = float(re.search(r"test force MAE ([\d.]+) kcal/mol/Å \(([\d.]+) meV/Å\), RMSE", out).group(2))
    assert out.rstrip().splitlines()[-1].startswith("result: energy_mae_kcal_per_mol=")
    assert (tmp_path / "figures" / "schnet_parity.png").stat().st_size > 10_000
    models = tmp_path / "schnet_tutorial" / "models"
    saved = sorted(models.glob("*/best_model"))
    assert len(saved) == 1
    run_dir = saved[0].parent
    info = json.loads((run_dir / "model_info.json").read_text())
    assert info["energy_unit"] == "eV" and info["settings"]["N_TRAIN"] == 20 and info["elements"] == [1, 6, 8]
    assert info["results"]["force_mae_kcal_mol_A"] / 23.060548 * 1000 == pytest.approx(f_mae, abs=0.06)
    split = np.load(run_dir / "split.npz")
    assert (len(split["train_idx"]), len(split["val_idx"]), len(split["test_idx"])) == (20, 10, 10)
    assert not set(split["test_idx"]) & (set(split["train_idx"]) | set(split["val_idx"]))

    # TensorBoard: losses, validation MAEs and the learning rate along its cosine (one value per
    # epoch, from LEARNING_RATE towards LR_FINAL x LEARNING_RATE); in HPARAMS this run's settings
    # and test errors, and the project's HPARAMS table definition (the same in every script's runs)
    (tb_run,) = (tmp_path / "runs").iterdir()
    assert tb_run.name == run_dir.name == "schnet_e3_lr0.01_f64"
    scalars = tensorboard_scalars(tb_run)
    assert {"1_loss/train", "1_loss/validation", "2_validation_MAE/energy_eV"} <= set(scalars)
    assert "2_validation_MAE/forces_eV_per_A" in scalars and "epoch" not in scalars
    cosine = [1e-4 + (1e-2 - 1e-4) * 0.5 * (1 + math.cos(math.pi * k / 3)) for k in range(3)]
    np.testing.assert_allclose(scalars["lr_schedule"], cosine, rtol=1e-6)
    assert scalars["test/force_MAE_kcal_per_mol_A"][0] == pytest.approx(f_mae / 1000 * EV_KCAL, rel=1e-3)
    raw = b"".join(p.read_bytes() for p in tb_run.glob("events.out.tfevents.*"))
    table = table_definition().value[0].metadata.plugin_data.content
    assert table in raw
    own = raw.replace(table, b"")  # this run's settings: the hardware (DEVICES, ...) not among them
    assert b"_hparams_/session_start_info" in own and b"LEARNING_RATE" in own and b"DEVICES" not in own

    # the saved file is a standard SchNetPack model: SpkCalculator loads it, and its errors on the
    # test frames are the ones script2 printed (in double precision: SpkCalculator's default float32
    # rounds the absolute energy, -4210 eV, by up to 0.5 meV)
    calc = SpkCalculator(
        model=str(saved[0]),
        neighbor_list=trn.ASENeighborList(cutoff=5.0),
        energy_unit="eV",
        position_unit="Ang",
        dtype=torch.float64,
    )
    de, df = [], []
    for k in split["test_idx"]:
        atoms = frames[int(k)].copy()
        atoms.calc = calc
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        de.append(energy - frames[int(k)].get_potential_energy())
        df.append(forces - frames[int(k)].get_forces())
    assert np.abs(de).mean() * 1000 == pytest.approx(e_mae, abs=0.1)
    assert np.abs(df).mean() * 1000 == pytest.approx(f_mae, abs=0.1)
    # the energy offset is stored as SchNetPack's own training stores it (one float64 number)
    offsets = torch.load(saved[0], weights_only=False).postprocessors[1]
    assert offsets.mean.shape == () and offsets.mean.dtype == torch.float64
    # ... and SchNetPack's MD engine (what spkmd runs) loads it and runs it, with the same forces
    spkmd_calculator_runs(saved[0], frames[int(split["test_idx"][0])], calc)

    # PaiNN at the default sizes for 4 epochs (a count, not a time budget: the same model on any
    # machine): a new folder, the first model intact, and script3 takes the newest
    second = run_in(
        tmp_path,
        SCRIPT2,
        "--quick",
        *SMALL,
        "--db-path",
        db,
        "--model",
        "painn",
        "--n-features",
        64,
        "--n-interactions",
        3,
        "--epochs",
        4,
        "--seed",
        1,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "painn: 3 interactions, 64 features, 20 Gaussians" in second.stdout
    assert "157,313 trainable parameters" in second.stdout
    assert "trained 4 epochs" in second.stdout and "time budget" not in second.stderr
    saved2 = sorted(models.glob("*/best_model"))
    assert len(saved2) == 2 and saved[0] in saved2
    assert (
        model_files.newest_model(models) != saved[0]
        and "painn" in model_files.newest_model(models).parent.name
    )
    assert len(list((tmp_path / "runs").iterdir())) == 2


def test_settings_the_model_does_not_use_and_a_time_budget_are_said(small_data, tmp_path):
    """Issue 26: N_FILTERS with PaiNN and LR_FINAL with a constant rate are ignored: one warning each,
    and left out of the record; a time budget that stops the training says so (steps of planned).
    A budget of 1 ms stops it after its first step on any machine: a model that learned nothing,
    whose advice names the budget, not LEARNING_RATE."""
    args = ["--quick", *SMALL, "--db-path", small_data[2], "--n-filters", 64, "--lr-schedule", "constant"]
    res = run_in(tmp_path, SCRIPT2, *args, "--lr-final", 0.5, "--epochs", 1000, "--time-budget-s", 0.001)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "learning rate 0.01, constant" in res.stdout and "Traceback" not in res.stderr
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    (filters,) = [w for w in warnings if w.startswith("warning: N_FILTERS = 64 is ignored")]
    (final,) = [w for w in warnings if w.startswith("warning: LR_FINAL = 0.5 is ignored")]
    (budget,) = [w for w in warnings if w.startswith("warning: the time budget (TIME_BUDGET_S = 0.001 s)")]
    assert "MODEL = 'painn'" in filters and "LR_SCHEDULE = 'constant'" in final
    assert "stopped the training after 1 of 3000 optimizer steps" in budget
    (error,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert "learned nothing" in error and "TIME_BUDGET_S" in error and "LEARNING_RATE" not in error
    (info,) = (tmp_path / "schnet_tutorial" / "models").glob("*/model_info.json")
    info = json.loads(info.read_text())
    assert info["learned"] is False and info["usable"] is False
    assert info["results"]["stopped_by_time_budget"] is True and info["results"]["steps"] == 1
    assert "N_FILTERS" not in info["settings"] and "LR_FINAL" not in info["settings"]


def test_diverged_training_saves_nothing(small_data, tmp_path):
    res = run_in(
        tmp_path,
        SCRIPT2,
        "--quick",
        *SMALL,
        "--db-path",
        small_data[2],
        "--learning-rate",
        1e6,
        "--epochs",
        2,
        cwd=tmp_path,
    )
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: training diverged") and "LEARNING_RATE" in err[0]
    assert not list((tmp_path / "schnet_tutorial" / "models").glob("*"))


def test_md17_path_on_a_local_npz(tmp_path):
    z, R, E, F = md17_arrays()
    npz = tmp_path / "md17_ethanol.npz"
    np.savez(npz, z=z, R=R, E=E[:, None], F=F)
    db = tmp_path / "md17.db"
    res = run_in(tmp_path, SCRIPT1, "--source", "md17", "--md17-file", npz, "--db-path", db, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{len(E)} frames of 9 atoms" in res.stdout
    # MD17's kcal/mol are converted to eV by SchNetPack's units
    assert f"energy {E.min() / EV_KCAL:.3f} .. {E.max() / EV_KCAL:.3f} eV" in res.stdout
    e_db, f_db, _ = dataset.read_energies_forces(db)
    np.testing.assert_allclose(f_db, F.reshape(-1, 3) / EV_KCAL, rtol=1e-6)
    again = run_in(tmp_path, SCRIPT1, "--source", "md17", "--md17-file", npz, "--db-path", db)
    assert "is up to date" in again.stdout


def test_rmd17_path_on_a_local_archive(tmp_path):
    """rMD17's archive layout: rmd17/npz_data/rmd17_ethanol.npz and rmd17/splits/*.csv."""
    z, R, E, F = md17_arrays(n=10, seed=1)
    archive = tmp_path / "rmd17.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:

        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        buf = io.BytesIO()
        np.savez(buf, nuclear_charges=z, coords=R, energies=E, forces=F)
        add("rmd17/npz_data/rmd17_ethanol.npz", buf.getvalue())
        for i in range(1, 6):
            add(f"rmd17/splits/index_train_0{i}.csv", b"0\n1\n2\n")
            add(f"rmd17/splits/index_test_0{i}.csv", b"3\n4\n")
    db = tmp_path / "rmd17.db"
    res = run_in(
        tmp_path, SCRIPT1, "--source", "rmd17", "--md17-file", archive, "--db-path", db, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "10 frames of 9 atoms" in res.stdout
    assert f"energy {E.min() / EV_KCAL:.3f} .. {E.max() / EV_KCAL:.3f} eV" in res.stdout


def test_download_without_network_is_one_line_error(tmp_path):
    # a proxy nobody listens on: the download fails at once, as it does offline
    proxy = "http://127.0.0.1:9"
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        ML_TUTORIAL_OUTPUT=str(tmp_path),
        http_proxy=proxy,
        https_proxy=proxy,
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
    )
    for source in ("md17", "rmd17"):
        res = subprocess.run(
            [sys.executable, str(SCRIPT1), "--source", source, "--db-path", str(tmp_path / f"{source}.db")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=1800,  # only against a hang (offline it fails at once)
            env=env,
        )
        err = res.stderr.strip().splitlines()
        assert res.returncode != 0
        assert len(err) == 1 and err[0].startswith(f"error: could not download {source.upper()}"), res.stderr[
            -1500:
        ]
        assert not list(tmp_path.glob(f"{source}*.db"))  # nothing half-written left behind


@pytest.mark.parametrize(
    "script, args, message",
    [
        (SCRIPT1, ["--data-file", "/nonexistent/x.xyz", "--db-path", "{tmp}/x.db"], "not found"),
        (SCRIPT1, ["--data-file", "{tmp}/corrupt.xyz", "--db-path", "{tmp}/c.db"], "cannot read"),
        (SCRIPT1, ["--data-file", "{tmp}/no_forces.xyz", "--db-path", "{tmp}/c.db"], "need an energy"),
        (
            SCRIPT1,
            ["--source", "rmd17", "--md17-file", "{tmp}/nothing.tar.gz", "--db-path", "{tmp}/r.db"],
            "MD17_FILE",
        ),
        (
            SCRIPT1,
            ["--source", "md17", "--md17-file", "{tmp}/corrupt.xyz", "--db-path", "{tmp}/r.db"],
            "could not read the MD17 data",
        ),
        (SCRIPT2, ["--db-path", "{tmp}/missing.db"], "run script1_prepare_data.py first"),
        (SCRIPT2, ["--db-path", "{tmp}/corrupt.xyz"], "is not a SchNetPack database"),
        (SCRIPT2, ["--db-path", "{db}", "--n-train", "35"], "needs more than the 40 frames"),
        (SCRIPT2, ["--quick", *SMALL, "--db-path", "{db}", "--accelerator", "gpu"], "no GPU"),
    ],
)
def test_bad_input_gives_one_line_error(script, args, message, tmp_path, small_data):
    """Bad files and sizes, as the scripts meet them (the settings' own rules: the test below)."""
    import torch

    if "gpu" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (tmp_path / "corrupt.xyz").write_text("9\nnot an xyz file\nC 0 0\n")
    write(str(tmp_path / "no_forces.xyz"), molecule("CH3CH2OH"))
    res = run_in(tmp_path, script, *[a.format(tmp=tmp_path, db=small_data[2]) for a in args], cwd=tmp_path)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], res.stderr[-1500:]
    assert not list(tmp_path.glob("*.db")) and not (tmp_path / "schnet_tutorial" / "models").exists()


@pytest.mark.parametrize(
    "script, args, message",
    [
        (SCRIPT1, ["--source", "qm9"], "SOURCE must be one of"),
        (SCRIPT2, ["--learning-rate", "-1"], "LEARNING_RATE must be a finite number > 0"),
        (SCRIPT2, ["--batch-size", "0"], "BATCH_SIZE must be an integer >= 1"),
        (SCRIPT2, ["--epochs", "two"], "EPOCHS must be an integer"),
        (SCRIPT2, ["--model", "nequip"], "MODEL must be one of"),
        (SCRIPT2, ["--lr-schedule", "step"], "LR_SCHEDULE must be one of"),
        (SCRIPT2, ["--cutoff", "0"], "CUTOFF must be a finite number > 0"),
        (TUT / "script5_uncertainty.py", ["--committee", "1"], "COMMITTEE must be an integer >= 2, got 1"),
        (TUT / "script6_active_learning.py", ["--n-seeds", "0"], "N_SEEDS must be an integer >= 1, got 0"),
    ],
)
def test_a_bad_setting_is_one_line_before_any_work(script, args, message, monkeypatch, capsys):
    """The script's own settings block and command line through its set-up line, in this process
    (a script process would spend seconds importing PyTorch first; that every script runs this set-up
    before any work, its runs in the other tests show): one line, exit code 2."""
    from common import settings

    block = script.read_text(encoding="utf-8").split("# %% Settings", 1)[1].split("\nsetup(globals()", 1)[0]
    namespace = {"__file__": str(script)}
    exec(block.split("\n", 1)[1], namespace)  # the settings block: constants and comments only
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    with pytest.raises(SystemExit) as stop:
        settings.setup(namespace, script.stem)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
