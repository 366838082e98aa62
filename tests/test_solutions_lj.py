"""The exercises (issue 27): every numbered lesson ends with an exercise cell that its solution file
answers, and the worked solutions of the Lennard-Jones lessons (solutions/lj_*.py) make the claims
their Answers state. Each test runs a solution's code (reduced settings where the claim survives them)
in one temporary output folder and asserts the claim: the direction, the winner, the order of
magnitude. Runs that several exercises of a lesson share are done once (the solutions cache them)."""

import re

import pytest

from conftest import ROOT
from solutions import lj_1_overfit as s1
from solutions import lj_2_overfit_with_validation as s2
from solutions import lj_3_hyperparameters as s3
from solutions import lj_4_learning_curve as s4
from solutions import lj_5_bias_variance as s5
from solutions import lj_6_optimizers as s6
from solutions import lj_7_hyperparameter_search as s7

KINDS = ("predict, then run", "read the figure", "write code")
HEADER = ("Kind", "Time", "Practises", "Checked by", "Change", "Answer", "Why")


# --- the structure, for every numbered lesson -----------------------------------------------------------


def lessons():
    """Every numbered lesson there is: lj_*.py and schnet_tutorial/script<N>*.py."""
    return sorted(ROOT.glob("lj_[0-9]*.py")) + sorted(ROOT.glob("schnet_tutorial/script[0-9]*.py"))


def exercises_of(lesson):
    """{N: kind} of the lesson's last cell, which must be ``# %% Exercises`` and comments only."""
    lines = lesson.read_text(encoding="utf-8").splitlines()
    cells = [i for i, line in enumerate(lines) if line.startswith("# %%")]
    assert cells and lines[cells[-1]].strip() == "# %% Exercises", (
        f"{lesson.name}: last cell is not '# %% Exercises'"
    )
    body = lines[cells[-1] + 1 :]
    assert all(not line.strip() or line.startswith("#") for line in body), (
        f"{lesson.name}: code in the Exercises cell"
    )
    items = [re.match(r"^# (\d+)\. \(([^)]*)\) \S", line) for line in body]
    found = {int(m.group(1)): m.group(2) for m in items if m}
    assert list(found) == list(range(1, len(found) + 1)), (
        f"{lesson.name}: exercises not numbered 1, 2, 3, ..."
    )
    assert set(found.values()) <= set(KINDS), f"{lesson.name}: kinds {set(found.values())}"
    return found


def solution_cells(path):
    """{N: {field: text}} of a solution file's ``# %% Exercise N`` cells (their comment header)."""
    cells = {}
    for m in re.finditer(r"^# %% Exercise (\d+)\n((?:#.*\n)*)", path.read_text(encoding="utf-8"), re.M):
        fields = dict(
            re.findall(
                r"^# (Kind|Time|Practises|Checked by|Change|Answer|Why)[^:]*:\s?(.*)$", m.group(2), re.M
            )
        )
        cells[int(m.group(1))] = fields
    return cells


def test_every_lesson_has_exercises_and_every_exercise_a_worked_solution():
    found = lessons()
    assert len(found) >= 14  # lj_1..7, script1..7 (and any lesson added since)
    total, code = 0, 0
    for lesson in found:
        exercises = exercises_of(lesson)
        assert len(exercises) >= 3, f"{lesson.name}: {len(exercises)} exercises, need at least 3"
        total += len(exercises)
        code += sum(kind == "write code" for kind in exercises.values())
        solution = ROOT / "solutions" / lesson.name
        assert solution.is_file(), f"no solutions/{lesson.name}"
        text = solution.read_text(encoding="utf-8")
        cells = solution_cells(solution)
        assert 'if __name__ == "__main__":' in text
        for n, kind in exercises.items():
            assert re.search(rf"^def exercise_{n}\(out=None, quick=False\)", text, re.M), (
                f"{solution.name}: exercise_{n}"
            )
            assert n in cells, f"{solution.name}: no '# %% Exercise {n}' cell"
            assert set(HEADER) <= set(cells[n]), f"{solution.name} {n}: missing {set(HEADER) - set(cells[n])}"
            assert cells[n]["Kind"].strip() == kind, (
                f"{solution.name} {n}: Kind {cells[n]['Kind']!r} vs {kind!r}"
            )
            assert "MEASURE" not in text and "TODO" not in text, f"{solution.name}: an unmeasured answer"
    assert total >= 42, f"{total} exercises in all, need at least 42"
    assert code * 3 >= total, f"{code} of {total} exercises need code, need at least a third"


def test_lj_lessons_stay_short_with_their_exercises():
    for lesson in ROOT.glob("lj_[0-9]*.py"):
        assert len(lesson.read_text(encoding="utf-8").splitlines()) <= 300, lesson.name


# --- the claims of the Lennard-Jones solutions ----------------------------------------------------------


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("lj_solutions")


def test_lj1_1_unseen_errors_are_orders_of_magnitude_above_training(out):
    a = s1.exercise_1(out, quick=True)
    assert a["orders_of_magnitude_min"] > 8 and a["train_mse_max_eps2"] < 1e-8
    assert a["extrap_over_interp_min"] > 1  # extrapolation is worse, for every seed


def test_lj1_2_more_points_help_interpolation_most(out):
    a = s1.exercise_2(out, quick=True)
    assert a["interpolation_20"] < a["interpolation_10"] / 4
    assert a["extrapolation_20"] > 2 * a["interpolation_20"]  # beyond the data it is still worse


def test_lj1_3_the_network_memorises_noise(out):
    a = s1.exercise_3(out, quick=True)
    assert a["train_mse_max_noisy_eps2"] < a["noise_variance_eps2"] / 1e4
    assert a["interpolation_mse_max_noisy_eps2"] > 0.1


def test_lj1_4_morse_overfits_like_lennard_jones(out):
    a = s1.exercise_4(out, quick=True)
    assert a["morse_train_mse_max_eps2"] < 1e-8
    assert a["morse_interp_mse_min_eps2"] > 1e5 * a["morse_train_mse_max_eps2"]
    assert a["morse_extrap_mse_max_eps2"] > a["morse_interp_mse_max_eps2"]


def test_lj2_1_training_stops_patience_after_the_best_epoch(out):
    a = s2.exercise_1(out, quick=True)
    assert a["stopped_epoch"] - a["best_epoch"] == 150  # PATIENCE
    assert a["train_mse_at_best_eps2"] < 0.05**2  # already below the noise's variance


def test_lj2_2_without_noise_no_early_stop_and_lower_validation_error(out):
    a = s2.exercise_2(out, quick=True)
    assert a["best_epoch_noise_0"] > a["best_epoch_noise_0.05"]
    assert a["validation_mse_noise_0_eps2"] < a["validation_mse_noise_0.05_eps2"] / 2


def test_lj2_3_test_error_is_the_models_own(out):
    a = s2.exercise_3(out, quick=True)
    assert a["noise_in_test_energies_eps2"] < a["test_mse_exact_eps2"] / 5
    assert a["test_mse_exact_eps2"] == pytest.approx(a["test_mse_noisy_eps2"], rel=0.3)


def test_lj3_1_one_hot_is_orders_of_magnitude_worse(out):
    a = s3.exercise_1(out, quick=True)
    assert a["one_hot_test_mse_eps2"] > 100 * a["gaussian_test_mse_eps2"]


def test_lj3_2_relu_force_jumps(out):
    a = s3.exercise_2(out, quick=True)
    assert a["relu_largest_force_jump"] > 5 * a["gelu_largest_force_jump"]
    assert a["relu_force_mae"] > a["gelu_force_mae"]


def test_lj3_3_sgd_learns_far_less_than_adam_at_the_same_rate(out):
    a = s3.exercise_3(out, quick=True)
    assert a["sgd_test_mse_eps2"] > 100 * a["adam_test_mse_eps2"]


def test_lj3_4_inverse_powers_extrapolate(out):
    a = s3.exercise_4(out, quick=True)
    assert a["inverse_powers_mse_3_to_4_sigma_eps2"] < a["gaussian_mse_3_to_4_sigma_eps2"] / 100


def test_lj4_1_the_small_model_wins_at_10_points_the_large_at_320(out):
    a = s4.exercise_1(out, quick=True)
    assert a["small_val_first_eps2"] < a["large_val_first_eps2"]
    assert a["large_val_last_eps2"] < a["small_val_last_eps2"] / 10


def test_lj4_2_noise_sets_a_floor_for_the_large_model_only(out):
    a = s4.exercise_2(out, quick=True)
    assert a["large_val_last_noisy_eps2"] > 1.5 * a["large_val_last_exact_eps2"]
    assert 0.25 * 0.05**2 < a["large_train_last_noisy_eps2"] < 2 * 0.05**2  # about the noise's variance
    assert a["small_val_last_noisy_eps2"] == pytest.approx(a["small_val_last_exact_eps2"], rel=0.3)


def test_lj4_3_power_law_exponents(out):
    a = s4.exercise_3(out, quick=True)
    assert a["alpha_large"] > 1.5 and a["alpha_small"] < 0.7


def test_lj5_1_l2_moves_the_best_size_up_and_shrinks_the_spread(out):
    a = s5.exercise_1(out, quick=True)
    assert a["no_l2_best_width"] < a["l2_1e-3_best_width"]
    assert a["l2_1e-3_large"][1] < a["no_l2_large"][1] / 2


def test_lj5_2_more_data_helps_the_large_model_without_l2(out):
    a = s5.exercise_2(out, quick=True)
    assert a["no_l2_large_80"][0] < a["no_l2_large_20"][0] / 2
    assert a["no_l2_large_80"][1] < a["no_l2_large_20"][1] / 2


def test_lj5_3_weight_decay_is_l2_except_for_adamw():
    a = s5.exercise_3(quick=True)
    assert a["max_difference_SGD"] < 1e-5 and a["max_difference_Adam"] < 1e-5
    assert a["max_difference_AdamW"] > 1e-2


def test_lj6_1_momentum_leaves_the_plateau_first(out):
    a = s6.exercise_1(out, quick=True)
    assert a["gd_over_momentum_150"] > 30 and a["adam_mse_150_eps2"] < a["momentum_mse_150_eps2"]


def test_lj6_2_half_the_momentum_stays_in_the_dip(out):
    a = s6.exercise_2(out, quick=True)
    assert a["momentum_0.9"][0] == "at the global minimum"
    assert a["momentum_0.5"][0] == a["nesterov_0.5"][0] == "at the local minimum"


def test_lj6_3_a_smaller_kick_escapes_less_often(out):
    a = s6.exercise_3(out, quick=True)
    assert a["escaped_noise_1"] < a["escaped_noise_3"] / 2


def test_lj6_4_nesterov_by_hand_is_torch_in_shifted_variables():
    a = s6.exercise_4(quick=True)
    assert a["max_diff_lookahead_vs_torch"] < 1e-10 < 0.1 < a["max_diff_theta_vs_torch"]
    assert max(map(abs, a["hand_end"] + a["torch_end"])) < 1e-3  # both at the global minimum


def test_lj7_1_tiny_learning_rates_screen_worst(out):
    a = s7.exercise_1(out, quick=True)
    assert a["n_lr_below_3e-4"] >= 2 and a["ratio"] > 100


def test_lj7_2_shorter_screening(out):
    a = s7.exercise_2(out, quick=True)
    assert a["best_screen_mse_10_eps2"] > 10 * a["best_screen_mse_40_eps2"]
    assert all(lr >= 3e-3 for lr, _, _ in a["finalists_10"])  # the fast starters


def test_lj7_3_memorising_five_points_catches_a_bug():
    a = s7.exercise_3(quick=True)
    assert a["steps_to_1e-6"] is not None and a["steps_to_1e-6"] < 500
    assert a["bug_steps_to_1e-6"] is None and a["bug_final_mse_eps2"] > 1e-3


def test_lj7_4_log_uniform_draws_every_decade():
    a = s7.exercise_4(quick=True)
    assert a["log_uniform_fractions"] == pytest.approx([0.404, 0.404, 0.193], abs=0.02)
    assert a["uniform_fractions"] == pytest.approx([0.030, 0.301, 0.669], abs=0.02)
