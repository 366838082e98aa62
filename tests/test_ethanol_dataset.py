"""The shipped ethanol PBE/def2-SVP data set and its generator
(schnet_tutorial/generators/make_ethanol_dataset.py)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from schnet_tutorial.generators import make_ethanol_dataset as med
from schnet_tutorial.helpers.dataset import read_frames as read_structures

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT / "schnet_tutorial" / "data" / "ethanol_pbe.xyz.gz"
META = ROOT / "schnet_tutorial" / "data" / "ethanol_pbe.json"
SCRIPT = ROOT / "schnet_tutorial" / "generators" / "make_ethanol_dataset.py"

# covalent bonds of ethanol in the file's atom order C0 C1 O2 H3..H8 and physical bounds (Å)
BONDS = {"CC": (1.30, 1.85), "CO": (1.20, 1.75), "CH": (0.85, 1.45), "OH": (0.80, 1.30)}


@pytest.fixture(scope="module")
def frames():
    # the same parser as ase.io.read (extxyz), on the unzipped text: 5x faster than ASE's .gz reading
    return read_structures(DATA)


def test_ase_reads_the_compressed_file_directly(frames):
    first = read(str(DATA), index=0)  # what users do: ase gui / ase.io.read on the .xyz.gz
    assert first.get_chemical_symbols() == frames[0].get_chemical_symbols()
    np.testing.assert_array_equal(first.get_positions(), frames[0].get_positions())
    assert first.get_potential_energy() == frames[0].get_potential_energy()
    np.testing.assert_array_equal(first.get_forces(), frames[0].get_forces())


def test_frame_count_species_and_shapes(frames):
    assert len(frames) >= 2000
    for atoms in frames:
        assert atoms.get_chemical_symbols() == ["C", "C", "O"] + ["H"] * 6
    forces = np.array([a.get_forces() for a in frames])
    energies = np.array([a.get_potential_energy() for a in frames])
    assert forces.shape == (len(frames), 9, 3)
    assert energies.shape == (len(frames),)
    assert [a.info["frame"] for a in frames] == list(range(len(frames)))


def test_units_are_ev_and_ev_per_angstrom(frames):
    energies = np.array([a.get_potential_energy() for a in frames])
    forces = np.array([a.get_forces() for a in frames])
    # PBE total energy of ethanol is about -154.9 Hartree = -4215 eV (in Hartree it would be ~-155)
    assert -4300 < energies.min() < energies.max() < -4100
    # thermal spread at 500 K: a few tenths of an eV to a couple of eV, not Hartree-sized or kcal-sized
    assert 0.3 < energies.max() - energies.min() < 5.0
    # mean |F| component at 500 K is of order 1 eV/Å (kcal/mol/Å would be ~23x larger)
    assert 0.3 < np.abs(forces).mean() < 3.0
    # an isolated molecule: the forces sum to zero
    assert np.abs(forces.sum(axis=1)).max() < 0.05


def test_metadata_names_level_of_theory(frames):
    meta = json.loads(META.read_text())
    assert meta["level_of_theory"].startswith("PBE/def2-SVP (PySCF")
    assert meta["program"] == "PySCF"
    assert meta["n_frames"] == len(frames)
    assert meta["units"] == {"energy": "eV", "forces": "eV/Angstrom", "positions": "Angstrom"}
    assert meta["sampling"]["sampler"] == "GFN2-xTB"
    assert meta["sampling"]["temperature_K"] == 500.0
    assert meta["sampling"]["timestep_fs"] == 0.5
    assert {"pyscf", "tblite", "ase"} <= set(meta["versions"])


def _pairs(symbols):
    for i in range(len(symbols)):
        for j in range(i + 1, len(symbols)):
            yield i, j, "".join(sorted(symbols[i] + symbols[j], key="COH".index))


def test_no_exploded_or_duplicate_geometries(frames):
    ref = med.start_geometry()
    symbols = ref.get_chemical_symbols()
    ref_d = ref.get_all_distances()
    bonded = [
        (i, j, k)
        for i, j, k in _pairs(symbols)
        if k in BONDS and ref_d[i, j] < 1.2 * {"CC": 1.54, "CO": 1.43, "CH": 1.09, "OH": 0.97}[k]
    ]
    assert len(bonded) == 8  # C-C, C-O, O-H and 5 C-H
    pos = np.array([a.get_positions() for a in frames])
    d = np.linalg.norm(pos[:, :, None, :] - pos[:, None, :, :], axis=-1)
    for i, j, kind in bonded:
        lo, hi = BONDS[kind]
        assert lo < d[:, i, j].min() and d[:, i, j].max() < hi, (i, j, kind)
    nonbonded = np.ones((9, 9), bool)
    np.fill_diagonal(nonbonded, False)
    for i, j, _ in bonded:
        nonbonded[i, j] = nonbonded[j, i] = False
    assert d[:, nonbonded].min() > 1.4  # no atoms crushed together
    # duplicates: compare sorted interatomic distance vectors of all frame pairs
    iu = np.triu_indices(9, 1)
    desc = d[:, iu[0], iu[1]]
    gap = np.sqrt(((desc[:, None, :] - desc[None, :, :]) ** 2).mean(-1))
    np.fill_diagonal(gap, np.inf)
    assert gap.min() > 0.01  # Å


def test_forces_are_minus_energy_gradient_pyscf():
    pytest.importorskip("pyscf")
    atoms = med.start_geometry()
    atoms.rattle(0.05, seed=1)
    symbols, pos = atoms.get_chemical_symbols(), atoms.get_positions()
    kw = dict(basis="sto-3g", grid_level=2, conv_tol=1e-11)
    _, forces = med.pbe_energy_forces(symbols, pos, **kw)
    h = 1e-3  # Å
    for atom, axis in [(0, 0), (2, 1), (8, 2)]:
        e = []
        for sign in (1, -1):
            p = pos.copy()
            p[atom, axis] += sign * h
            e.append(med.pbe_energy_forces(symbols, p, **kw)[0])
        fd = -(e[0] - e[1]) / (2 * h)
        assert abs(fd - forces[atom, axis]) < 5e-3, (atom, axis, fd, forces[atom, axis])


def generate(out, frames, workers, work):
    """Run the generator for the first ``frames`` frames into ``out`` (resumable in ``work``)."""
    args = ["--frames", frames, "--workers", workers, "--out", out, "--work-dir", work]
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=work.parent
    )


def test_regenerating_first_frames_reproduces_shipped(tmp_path, frames):
    pytest.importorskip("pyscf")
    pytest.importorskip("tblite")
    out = tmp_path / "check.xyz"
    res = generate(out, 2, workers=2, work=tmp_path / "work")
    assert res.returncode == 0, res.stderr
    new = read(str(out), index=":")
    assert len(new) == 2
    for a, b in zip(new, frames[:2]):
        np.testing.assert_allclose(a.get_positions(), b.get_positions(), rtol=0, atol=2e-8)
        assert abs(a.get_potential_energy() - b.get_potential_energy()) < 1e-5
        np.testing.assert_allclose(a.get_forces(), b.get_forces(), rtol=0, atol=1e-4)
    # resuming: asking for a third frame labels only that one
    res = generate(out, 3, workers=1, work=tmp_path / "work")
    assert res.returncode == 0, res.stderr
    assert "2 frames done, 1 to do" in res.stdout
    assert len(read(str(out), index=":")) == 3


def test_interrupted_work_file_is_repaired(tmp_path, frames):
    path = tmp_path / "labels.xyz"
    from ase.io import write

    write(str(path), frames[:3], format="extxyz")
    text = path.read_text()
    path.write_text(text[: len(text) - 200])  # cut the last frame short
    kept = med.read_frames_tolerant(path)
    assert len(kept) == 2
    assert len(med.read_frames_tolerant(path)) == 2  # the file was rewritten whole


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frames", "0"], "--frames must be >= 1"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--out", "x.csv"], "--out must end in .xyz"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, args, message):
    res = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--work-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: ") and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
