"""The PBE/def2-SVP reference of script7 (schnet_tutorial/data/ethanol_pbe_normal_modes.json) and its
generator, schnet_tutorial/generators/make_normal_modes.py: content, units, and a cheap PBE re-check (one
gradient for the residual forces, four more for two frequencies by finite differences; under a minute)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms

from conftest import ROOT
from schnet_tutorial.generators import make_normal_modes as mnm

DATA = ROOT / "schnet_tutorial" / "data"
GENERATOR = ROOT / "schnet_tutorial" / "generators" / "make_normal_modes.py"


@pytest.fixture(scope="module")
def ref():
    return mnm.load(DATA / "ethanol_pbe_normal_modes.json")


def test_keys_units_and_the_level_of_theory_of_the_training_frames(ref):
    frames_meta = json.loads((DATA / "ethanol_pbe.json").read_text())
    assert ref["level_of_theory"] == frames_meta["level_of_theory"]  # PBE/def2-SVP, density fitting, grid 3
    assert ref["numbers"] == [6, 6, 8, 1, 1, 1, 1, 1, 1]  # the frames' atom order
    assert np.array(ref["positions_A"]).shape == (9, 3)
    assert ref["units"]["frequencies"] == "cm^-1" and ref["units"]["energy"] == "eV"
    freqs = np.array(ref["frequencies_cm1"])
    assert freqs.shape == (21,) and (np.diff(freqs) >= 0).all() and freqs[0] > 0  # 3N-6, ascending, real
    assert len(ref["mode_names"]) == 21
    hessian = np.array(ref["hessian_eV_A2"])
    assert hessian.shape == (27, 27) and np.allclose(hessian, hessian.T)
    assert {"pyscf", "ase", "numpy", "python"} <= set(ref["versions"])
    assert ref["timing"]["total_wall_s"] > 0 and "analytic" in ref["method"]["hessian"]
    # the minimum lies below every frame of the 500 K data set, at the same level of theory (eV)
    assert frames_meta["energy_range_eV"][0] - 0.5 < ref["energy_eV"] < frames_meta["energy_range_eV"][0]


def test_frequencies_and_names_follow_from_the_stored_hessian(ref):
    symbols, positions, hessian = ref["symbols"], np.array(ref["positions_A"]), ref["hessian_eV_A2"]
    vib = mnm.vibrations(symbols, positions, hessian)
    freqs, modes = mnm.real_modes(vib)
    np.testing.assert_allclose(freqs, ref["frequencies_cm1"], atol=0.01)
    assert np.abs(vib.get_frequencies()).min() < 30  # the dropped six: translations and rotations ~ 0
    assert mnm.mode_names(symbols, positions, hessian, modes, freqs) == ref["mode_names"]


def test_trans_ethanol_with_chemically_sensible_values(ref):
    atoms = Atoms(numbers=ref["numbers"], positions=ref["positions_A"])
    assert abs(abs(atoms.get_dihedral(3, 2, 1, 0)) - 180) < 1  # H-O-C-C anti: the trans conformer
    assert 0.96 < atoms.get_distance(2, 3) < 0.99  # O-H (Å)
    assert 1.40 < atoms.get_distance(1, 2) < 1.46  # C-O
    assert 1.50 < atoms.get_distance(0, 1) < 1.54  # C-C
    freqs, names = np.array(ref["frequencies_cm1"]), ref["mode_names"]
    assert 200 < freqs[0] < 330 and 200 < freqs[1] < 330  # the two torsions
    assert {names[0], names[1]} == {"OH torsion", "CH3 torsion"} and names[2] == "C-C-O bend"
    assert 3600 < freqs[-1] < 3850 and names[-1] == "O-H stretch"
    assert ((freqs > 2800) & (freqs < 3200)).sum() == 5  # five C-H stretches
    assert all("C-H stretch" in n for n in names[15:20])


def test_pbe_forces_vanish_and_two_frequencies_reproduce(ref):
    """One PBE gradient at the stored geometry, and the lowest and highest frequency again from
    central differences of PBE gradients along their modes (not from the analytic Hessian)."""
    forces, stored, finite_diff = mnm.finite_difference_frequencies(ref, [0, 20])
    assert np.abs(forces).max() < 1e-3  # eV/Å
    np.testing.assert_allclose(finite_diff, stored, rtol=0.01)


def test_generator_reports_a_missing_file_in_one_line(tmp_path):
    res = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--out", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        timeout=1800,  # only against a hang
    )
    assert (
        res.returncode == 2 and res.stderr.strip().startswith("error: ") and len(res.stderr.splitlines()) == 1
    )
