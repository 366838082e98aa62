"""schnet_tutorial/script8_foundation_model.py with reduced settings (--quick: SO3LR fine-tuned for 4 steps
on 10 frames, a SchNet of 20 steps from scratch, 20 MD steps): the result line, the figure, the saved
model, and the one-line errors (the optional package missing, a missing or broken weight file, a model
for other elements, a fine-tuning that diverges), each with nothing lost; tour.py skips the lesson
without the package and goes on. Needs requirements-foundation.txt (CI installs it)."""

import json
import shutil

import pytest

from conftest import ROOT, output_with_database, result_of, run_script

pytest.importorskip(
    "so3krates_torch", reason="the optional install: pip install -r requirements-foundation.txt"
)

SCRIPT8 = ROOT / "schnet_tutorial" / "script8_foundation_model.py"
INSTALL = "pip install -r requirements-foundation.txt"


def one_error_line(res, *words):
    """The run stopped with exactly one 'error:' line holding ``words``, and no traceback."""
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """An output folder with script1's database and one quick run of the lesson."""
    out, env = output_with_database(tmp_path_factory, "script8")
    res = run_script(SCRIPT8, "--quick", env=env, timeout=1800)  # (against hangs: a loaded machine is slow)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return out, env, res


def saved_models(out):
    return sorted((out / "schnet_tutorial" / "models").glob("so3lr_finetuned_*"))


def test_result_line_figure_and_saved_model(lesson):
    out, _, res = lesson
    r = result_of(res)
    for key in (
        "zero_shot_force_mae_kcal_mol_A",
        "finetuned_force_mae_kcal_mol_A",
        "scratch_force_mae_kcal_mol_A",
    ):
        assert r[key] > 0, key
    assert r["n_train"] == 10 and r["md_steps"] == 20
    # SO3LR as it is on our PBE frames (measured 6.5 kcal/mol/Å; zero forces would give ~20)
    assert 5.0 < r["zero_shot_force_mae_kcal_mol_A"] < 8.0
    assert r["zero_shot_energy_mae_kcal_mol"] < 3.0  # after refitting the per-element shifts
    # even 4 steps on 10 frames move the model toward PBE; both choices ran
    assert r["finetuned_force_mae_kcal_mol_A"] < r["zero_shot_force_mae_kcal_mol_A"]
    assert r["finetuned_force_mae_kcal_mol_A"] == min(
        r["finetuned_naive_force_mae_kcal_mol_A"], r["finetuned_lora_force_mae_kcal_mol_A"]
    )
    assert 0 < r["finetuned_freq_mae_cm1"] < 500 and 0 < r["zero_shot_freq_mae_cm1"] < 500
    assert (out / "figures" / "foundation_model.png").stat().st_size > 10_000
    (folder,) = saved_models(out)
    info = json.loads((folder / "model_info.json").read_text())
    assert info["n_train"] == 10 and info["elements"] == [1, 6, 8] and len(info["train_idx"]) == 10
    assert info["results"]["force_mae_kcal_mol_A"] == pytest.approx(
        r["finetuned_force_mae_kcal_mol_A"], abs=1e-3
    )
    (record,) = (out / "results" / "script8_foundation_model").glob("run_*/results.json")
    assert json.loads(record.read_text())["result"]["n_train"] == 10


def test_missing_package_is_one_line_and_the_tour_goes_on(lesson, tmp_path):
    """A stand-in so3krates_torch that fails to import, ahead of the real one on the path."""
    out, env, _ = lesson
    fake = tmp_path / "blocked" / "so3krates_torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'so3krates_torch'\")\n")
    blocked = {**env, "PYTHONPATH": str(fake.parent)}
    res = run_script(SCRIPT8, "--quick", env=blocked, timeout=900)
    assert res.returncode == 3
    one_error_line(res, INSTALL)
    res = run_script(ROOT / "tour.py", "script8", "--quick", env=blocked, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:]
    assert "SKIPPED" in res.stdout and INSTALL in res.stdout and "1 skipped" in res.stdout


def test_missing_broken_or_foreign_weight_files_are_one_line(lesson, tmp_path):
    out, env, _ = lesson
    before = saved_models(out)
    res = run_script(
        SCRIPT8, "--quick", "--model-file", tmp_path / "nothing" / "so3lr.model", env=env, timeout=900
    )
    assert res.returncode == 2
    one_error_line(res, "not found")
    broken = tmp_path / "broken.model"
    broken.write_bytes(b"not a model, cut off")
    res = run_script(SCRIPT8, "--quick", "--model-file", broken, env=env, timeout=900)
    assert res.returncode == 2
    one_error_line(res, "broken")
    foreign = tmp_path / "foreign"  # a fine-tuned model that saw only H and C
    shutil.copytree(before[0], foreign)
    info = json.loads((foreign / "model_info.json").read_text())
    (foreign / "model_info.json").write_text(json.dumps({**info, "elements": [1, 6]}))
    res = run_script(SCRIPT8, "--quick", "--model-file", foreign, env=env, timeout=900)
    assert res.returncode == 2
    one_error_line(res, "Z = [8]")
    assert saved_models(out) == before  # nothing saved, nothing removed


def test_a_diverging_finetuning_is_one_line_and_keeps_the_finished_ones(lesson):
    out, env, _ = lesson
    finished = sorted((out / "results" / "script8_foundation_model" / "finetunings").glob("*/result.json"))
    res = run_script(SCRIPT8, "--quick", "--learning-rate", 1000, "--finetune", "naive", env=env, timeout=900)
    assert res.returncode == 1
    one_error_line(res, "diverged", "LEARNING_RATE")
    assert "result:" not in res.stdout
    assert all(path.is_file() for path in finished) and len(saved_models(out)) == 1
