"""The worked solutions of the SchNet lessons (solutions/script1_*.py ... script7_*.py) make the claims
their Answers state: each test runs a solution's code with the reduced settings (--quick) in a
temporary output folder and asserts the claim that survives them (the direction, the winner, the order
of magnitude, the file produced). Claims that hold only at a long lesson's defaults are checked by
benchmarks/check_solutions.py. One output folder with script1's database (built once per test process,
conftest.output_with_database) and script2's quick model serves the whole module; the solutions' own
computations run in this process on one thread (a 9-atom molecule gains nothing from a second one)."""

import pytest

from conftest import output_with_database
from solutions import script1_prepare_data as s1
from solutions import script2_train_schnet as s2
from solutions import script3_run_md as s3
from solutions import script4_learning_curve as s4
from solutions import script5_uncertainty as s5
from solutions import script6_active_learning as s6
from solutions import script7_vibrations as s7


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The solutions' in-process work (forces, committees, script7's MD) on one thread: the same
    numbers, without a second thread spinning on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """An output folder with script1's database and script2's quick model (trained once)."""
    folder, _ = output_with_database(tmp_path_factory, "schnet_solutions")
    s2.trained_model(folder, quick=True)  # script2 --quick (the database is there: no script1 run)
    return folder


# script1: the data (fixed, so the numbers themselves are checked)
def test_script1_energy_spread_is_22_times_chemical_accuracy(out):
    answer = s1.exercise_1(out, quick=True)
    assert answer["spread_eV"] == pytest.approx(0.951, abs=0.001)
    assert answer["spread_kcal_per_mol"] == pytest.approx(21.9, abs=0.1)
    assert answer["kcal_per_mol_over_total_energy"] == pytest.approx(1.0e-5, rel=0.05)
    assert -340 < answer["histogram_from_meV"] < -320 and 615 < answer["histogram_to_meV"] < 630


def test_script1_rerun_reuses_and_force_rebuilds(out):
    answer = s1.exercise_2(out, quick=True)
    assert answer["second_run_rebuilt"] is False and answer["forced_run_rebuilt"] is True


def test_script1_carbons_feel_the_largest_forces(out):
    answer = s1.exercise_3(out, quick=True)
    assert answer["mean_force_C_eV_A"] > answer["mean_force_O_eV_A"] > answer["mean_force_H_eV_A"]
    assert answer["mean_force_C_eV_A"] == pytest.approx(2.57, abs=0.01)


def test_script1_equipartition_gives_about_500_K(out):
    answer = s1.exercise_4(out, quick=True)
    assert answer["predicted_std_500K_eV"] == pytest.approx(0.140, abs=0.001)
    assert 500 < answer["temperature_K"] < 580  # 540 K: near the sampling's 500 K, a little above


# script2: training (quick model: 200 frames, 5 epochs)
def test_script2_test_errors_are_recorded_and_better_than_no_model(out):
    answer = s2.exercise_1(out, quick=True)
    results = s2.model_results(s2.trained_model(out, quick=True))
    assert answer["parameters"] > 1000
    assert 0 < answer["force_mae_kcal_mol_A"] < results["zero_force_mae_kcal_mol_A"]


def test_script2_a_quarter_of_the_training_is_worse(out):
    answer = s2.exercise_2(out, quick=True)
    assert answer["force_mae_quarter"] > answer["force_mae_full"]


def test_script2_force_error_per_element(out):
    answer = s2.exercise_3(out, quick=True)
    assert set(answer) == {f"mae_{e}_kcal_mol_A" for e in "HCO"} | {f"relative_{e}" for e in "HCO"}
    for element in "HCO":
        assert 0 < answer[f"relative_{element}"] < 1  # better than guessing zero force, on each element
    assert answer["mae_C_kcal_mol_A"] > answer["mae_H_kcal_mol_A"]  # largest forces, largest errors


# script3: MD with the quick model (100 steps)
@pytest.fixture(scope="module")
def md_run(out):
    return s3.run_md(out=out, quick=True)


def test_script3_temperature_fluctuates_as_canonical_statistics_say(md_run):
    answer = s3.temperature_statistics(md_run["trajectory"])
    assert answer["predicted_std_K"] == pytest.approx(answer["mean_K"] * (2 / 24) ** 0.5)
    assert 0.3 < answer["std_K"] / answer["predicted_std_K"] < 3  # order of magnitude: tens of K


def test_script3_verlet_energy_error_grows_as_the_step_squared(out):
    answer = s3.exercise_2(out, quick=True)
    assert 2 < answer["ratio"] < 8  # 4 for twice the step


def test_script3_bond_lengths_in_the_order_of_the_atoms_radii(md_run, out):
    answer = s3.bond_lengths(md_run["trajectory"], out / "bonds.png")
    means = {name: mean for name, (mean, _) in answer.items()}
    assert set(means) == {"C-H", "H-O", "C-O", "C-C"}
    assert means["H-O"] < means["C-H"] < means["C-O"] < means["C-C"]
    assert 0.9 < means["H-O"] and means["C-C"] < 1.7
    assert (out / "bonds.png").stat().st_size > 10_000


def test_script3_five_fs_steps_break_the_molecule(out):
    answer = s3.exercise_3(out, quick=True)
    assert answer["survived"] is False and "blew up" in answer["message"]


# script4: the learning curve (quick: SchNet, N = 10 and 100, 150 steps, no ladder)
def test_script4_energy_and_force_slopes_from_the_cached_trainings(out):
    answer = s4.exercise_3(out, quick=True)
    assert answer["schnet_force_slope"] == pytest.approx(answer["lesson_slope_schnet"], abs=0.01)
    assert answer["schnet_force_slope"] < 0 and answer["schnet_energy_slope"] < 0  # more data, less error


# script5: a quick committee of 4 (for exercise 3), whose run also answers exercise 1
@pytest.fixture(scope="module")
def committee_run(out):
    return s5.uncertainty("--committee", 4, "--temperatures-k", 300, out=out, quick=True)


def test_script5_committee_is_overconfident_and_beats_its_members(committee_run):
    assert committee_run["error_over_disagreement"] > 1  # the true error is larger than the spread
    assert committee_run["committee_force_mae_kcal_mol_A"] < committee_run["member_force_mae_kcal_mol_A"]


def test_script5_more_members_a_smaller_error(committee_run, out):
    answer = s5.committee_by_size(out)
    assert {"mae_1", "mae_2", "mae_4", "rho_2", "rho_4"} <= set(answer)
    assert answer["mae_4"] < min(answer["mae_1"], answer["mae_2"])  # (2 need not beat 1: it did not here)
    assert answer["rho_4"] > 0


# script6: one quick round of active learning
def test_script6_both_strategies_start_from_the_same_committee(out):
    answer = s6.exercise_1(out, quick=True)
    assert answer["mae_active_first"] == answer["mae_random_first"]
    assert answer["last_labels"] > answer["first_labels"]


def test_script6_disagreement_points_at_high_energy_frames(out):
    answer = s6.exercise_3(out, quick=True)  # the start committee of exercise 1's run
    assert answer["members"] == 2
    assert answer["spearman_rho_disagreement_energy"] > 0
    assert answer["chosen_mean_energy_kcal_mol"] > 0  # above the pool's mean energy


# script7: isotopes (PBE's Hessian, no model) and the MD spectrum at two seeds
def test_script7_deuteration_moves_the_oh_stretch_as_the_reduced_mass_says():
    answer = s7.exercise_3()
    assert answer["OH_stretch_cm1"] == pytest.approx(3720.1, abs=0.1)
    assert answer["OD_stretch_cm1"] == pytest.approx(answer["predicted_OD_cm1"], abs=5)
    assert set(answer["moved_more_than_10_percent"]) == {
        "OH torsion",
        "CH3 rock + C-C stretch",
        "O-H stretch",
    }


def test_script7_another_seed_keeps_the_peak_positions_not_the_heights(out):
    answer = s7.exercise_2(out, quick=True)  # 1,000 steps (0.5 ps) per seed, a 250-fs correlation
    # the O-H stretch, one mode alone in its band: the same position (resolution ~130 cm^-1), another height
    assert abs(answer["OH_stretch_cm1_seed0"] - answer["OH_stretch_cm1_seed1"]) < 30  # 0 measured
    heights = answer["OH_stretch_height_seed0"], answer["OH_stretch_height_seed1"]
    assert max(heights) > 1.5 * min(heights)  # 3.2x measured (2026-12-07; 6x with 2,000 steps)
