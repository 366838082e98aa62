"""lj_4 ... lj_7 and common/sweeps.py: the slides' claims checked on reduced settings, the search's
table and TensorBoard logs, one-line errors. Each script writes into its own temporary folder."""

import csv
import re

import pytest
import torch

from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel
from common.runs import table_definition
from common.sweeps import mse_of, train_many
from common.training import evaluate, make_optimizer, train_epoch
from conftest import ROOT, run_script

TABLE = table_definition().value[0].metadata.plugin_data.content  # HPARAMS' columns

NUMBER = r"([-+0-9.e]+)"


# --- common/sweeps.py: many trainings at once = the same trainings one by one -------------------------


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_train_many_equals_independent_trainings(optimizer):
    descriptor = GaussianBasis(10, 0.9, 3.0)
    sets = [LJDataset(n, 0.9, 2.0, spacing="random", seed=n) for n in (5, 12, 8)]
    l2 = [0.0, 1e-2, 1e-3]
    models = []
    for k in range(3):
        torch.manual_seed(k)
        models.append(LJModel(descriptor, 8, 2))
    lr = 1e-2 if optimizer == "adam" else 1e-3
    together = train_many(models, [s.r for s in sets], [s.energy for s in sets], 50, lr, optimizer, l2=l2)
    for k, data in enumerate(sets):
        torch.manual_seed(k)
        alone = LJModel(descriptor, 8, 2)
        opt = make_optimizer(optimizer, alone.parameters(), lr, weight_decay=l2[k])
        for _ in range(50):
            train_epoch(alone, [(data.r, data.energy)], opt)
        assert together[k] == pytest.approx(evaluate(alone, [(data.r, data.energy)]), rel=1e-3, abs=1e-7)
        for a, b in zip(alone.parameters(), models[k].parameters()):
            assert torch.allclose(a, b, atol=1e-4)
    assert mse_of(models, sets[0].r, sets[0].energy)[0] == pytest.approx(together[0], rel=1e-3, abs=1e-7)


def test_train_many_rejects_adamw_and_mismatched_sets():
    models = [LJModel(GaussianBasis(5, 0.9, 3.0), 4, 1) for _ in range(2)]
    data = LJDataset(5, 0.9, 2.0)
    with pytest.raises(ValueError, match="optimizer"):
        train_many(models, data.r, data.energy, 1, 1e-3, optimizer="adamw")
    with pytest.raises(ValueError, match="one training set per model"):
        train_many(models, [data.r], [data.energy], 1, 1e-3)


# --- the scripts, on reduced settings ------------------------------------------------------------------


def table_rows(stdout, columns):
    """Rows 'N | ...' of a printed table, as lists of floats (the 'N' first)."""
    rows = []
    for line in stdout.splitlines():
        if re.match(r"^\s*\d[\d,]*\s+(\d[\d,]*\s+)?\|", line):
            rows.append(
                [float(x.replace(",", "")) for x in re.findall(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", line)]
            )
    assert rows and all(len(r) == columns for r in rows), stdout
    return rows


def output(tmp_path):
    return {"ML_TUTORIAL_OUTPUT": str(tmp_path / "out")}


def figure(tmp_path, name):
    return tmp_path / "out" / "figures" / name


LJ4_QUICK = ["--train-sizes", "10,40,160", "--n-seeds", "3", "--epochs", "150"]  # lj_4's reduced settings


def test_lj4_learning_curve_gap_shrinks_and_large_model_varies_more(tmp_path):
    res = run_script(ROOT / "lj_4_learning_curve.py", *LJ4_QUICK, cwd=tmp_path, env=output(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    # N | small: train, val, sd | large: train, val, sd
    rows = table_rows(res.stdout, 7)
    assert [r[0] for r in rows] == [10, 40, 160]
    first, last = rows[0], rows[-1]
    assert first[5] / first[4] > 100 * (last[5] / last[4])  # the large model's curves converge ...
    assert last[5] / last[4] < 3
    assert last[2] < first[2] and last[5] < first[5]  # ... and more data lowers the validation error
    assert first[6] > first[3]  # at few points the large model's results spread more
    assert last[6] < first[6] / 10 and last[3] < first[3]  # enough data removes variance
    assert figure(tmp_path, "lj_4_learning_curve.png").stat().st_size > 5000
    plain, batched = re.search(r"training MSE (\S+) written out, (\S+) with train_many", res.stdout).groups()
    assert float(plain) == pytest.approx(float(batched), rel=1e-3)  # the loop in the page = the batched one
    again = run_script(ROOT / "lj_4_learning_curve.py", *LJ4_QUICK, env=output(tmp_path))  # from the repo
    assert again.returncode == 0, again.stderr[-2000:]
    assert table_rows(again.stdout, 7) == rows  # seeded: the same numbers


def test_lj5_optimum_size_and_l2_lets_the_large_model_win(tmp_path):
    res = run_script(
        ROOT / "lj_5_bias_variance.py",
        "--widths",
        "4,64",
        "--l2-strengths",
        "0,0.001",
        "--n-seeds",
        "4",
        "--epochs",
        "1000",
        cwd=tmp_path,
        env=output(tmp_path),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    # width params | no L2: mean sd | L2 1e-3: mean sd
    (w_small, _, a_mean, a_sd, b_mean, b_sd), (w_large, _, c_mean, c_sd, d_mean, d_sd) = table_rows(
        res.stdout, 6
    )
    assert (w_small, w_large) == (4, 64)
    assert a_mean < c_mean  # without L2 the larger model is worse: an optimum size
    assert d_mean < b_mean  # with L2 the larger model wins ...
    assert d_mean < a_mean  # ... and beats the best model without L2
    assert d_sd < c_sd / 2  # L2 lowers the variance of the large model
    assert "L2 0: best width 4" in res.stdout and "L2 0.001: best width 64" in res.stdout
    assert figure(tmp_path, "lj_5_bias_variance.png").stat().st_size > 5000
    again = run_script(ROOT / "lj_5_bias_variance.py", "--quick", env=output(tmp_path))  # from the repo
    assert again.returncode == 0, again.stderr[-2000:]


def test_lj6_optimizers(tmp_path):
    res = run_script(ROOT / "lj_6_optimizers.py", "--quick", cwd=tmp_path, env=output(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    final = {
        m.group(1).strip(): float(m.group(2))
        for m in re.finditer(r"^(.+?) lr [0-9.e-]+: training MSE .* (\S+) epsilon\^2 after", res.stdout, re.M)
    }
    assert set(final) == {"gradient descent", "SGD (batches of 8)", "momentum", "Nesterov", "Adam"}
    assert final["momentum"] < final["gradient descent"] / 10
    assert final["Nesterov"] < final["gradient descent"] / 10
    assert final["Adam"] < final["gradient descent"] / 10
    ends = dict(
        re.findall(r"^surface, (.+?)\s*: ends at .*?: (at the \w+ minimum|still moving)", res.stdout, re.M)
    )
    assert ends == {
        "gradient descent": "at the local minimum",
        "noisy gradient descent": "still moving",  # slowly, along the flat floor of the global basin
        "momentum": "at the global minimum",
        "Nesterov": "at the global minimum",
        "Adam": "at the global minimum",
    }
    assert "still moving (|gradient| 0.015), in the global minimum's basin" in res.stdout
    # the 2-D surface: a local minimum in the dip, a saddle between it and the global minimum
    local_y, saddle_y = map(
        float,
        re.search(
            r"local minimum \(0, (\S+)\), cost \S+; saddle between them at y = (\S+)", res.stdout
        ).groups(),
    )
    assert 2.0 < local_y < 3.0 and 1.0 < saddle_y < local_y
    escaped, runs = map(
        int, re.search(r"global minimum's basin \(y < \S+\) in (\d+) of (\d+) runs", res.stdout).groups()
    )
    assert runs == 20 and escaped >= 12  # most noisy runs escape; plain descent does not
    assert "plain gradient descent: not in it" in res.stdout
    assert "Phys. Rep. 810" in (ROOT / "lj_6_optimizers.py").read_text()
    for name in ("lj_6_loss_vs_step.png", "lj_6_surface_paths.png"):
        assert figure(tmp_path, name).stat().st_size > 5000
    again = run_script(ROOT / "lj_6_optimizers.py", "--quick", env=output(tmp_path))  # from the repo
    assert again.returncode == 0, again.stderr[-2000:]


@pytest.mark.parametrize(
    "args, expected",
    [
        (  # a start far outside the valley: Adam's steps of about lr cannot get back in 400 steps
            ["--surface-start", "100,100"],
            {
                "gradient descent": "at the local minimum",
                "Adam": "still moving",
                "Nesterov": "at the global minimum",
            },
        ),
        (
            ["--surface-learning-rate", "1.5"],
            {"gradient descent": "diverged", "Adam": "at the global minimum"},
        ),
    ],
    ids=["start_outside_the_valley", "too_long_steps"],
)
def test_lj6_says_where_a_path_really_ends(args, expected, tmp_path):
    """issue 21: an end point is a minimum only where the gradient vanishes; else still moving or diverged"""
    res = run_script(
        ROOT / "lj_6_optimizers.py", "--steps", "20", "--noisy-runs", "3", *args, env=output(tmp_path)
    )
    assert res.returncode == 0, res.stderr[-2000:]
    ends = dict(
        re.findall(
            r"^surface, (.+?)\s*: ends at .*?: (at the \w+ minimum|still moving|diverged)", res.stdout, re.M
        )
    )
    assert len(ends) == 5 and expected.items() <= ends.items(), res.stdout
    for line in res.stdout.splitlines():
        if line.startswith("surface,") and ": at the " in line:  # a minimum: the gradient has vanished
            assert float(re.search(r"\|gradient\| (\S+)\)", line).group(1)) < 0.01, line
    assert "plain gradient descent: not in it" in res.stdout
    assert figure(tmp_path, "lj_6_surface_paths.png").stat().st_size > 5000


def read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_lj7_search_table_tensorboard_and_rerun(tmp_path):
    out = tmp_path / "out"
    res = run_script(ROOT / "lj_7_hyperparameter_search.py", "--quick", cwd=tmp_path, env=output(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    (table,) = (out / "results").glob("*.csv")
    rows = read_csv(table)
    assert list(rows[0])[:4] == ["rank", "search", "name", "learning_rate"]
    assert len(rows) == 4  # --quick: 2 grid + 2 random candidates
    assert {r["search"] for r in rows} == {"grid", "random"}
    screen = [float(r["screen_validation_mse"]) for r in rows]
    assert screen == sorted(screen) and [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    finalists = [r for r in rows if r["test_mse"]]
    assert finalists == rows[:2]  # TOP_K = 2: the two best screened, and only they are tested
    best = min(finalists, key=lambda r: float(r["full_validation_mse"]))
    done = [line for line in res.stdout.splitlines() if line.startswith("done:")][0]
    assert f"validation MSE {float(best['full_validation_mse']):.2e}" in done
    assert f"test MSE {float(best['test_mse']):.2e}" in done
    assert res.stdout.strip().splitlines()[-1].startswith("result: best_learning_rate=")
    # one TensorBoard folder per trial, named after the trial first and the search (the table's name) last
    trials = sorted((out / "runs").iterdir())
    assert len(trials) == 6 and sum(t.name.startswith("screen") for t in trials) == 4
    assert all(t.name.endswith("_" + table.stem) for t in trials) and len({t.name[:20] for t in trials}) == 6
    for trial in trials:
        raw = b"".join(p.read_bytes() for p in trial.glob("events.out.tfevents.*"))
        assert TABLE in raw  # the project's one HPARAMS table definition, the same in every run
        raw = raw.replace(TABLE, b"")  # this run's own: its settings and metrics
        assert b"_hparams_/session_start_info" in raw and b"best_epoch/validation_MSE_eps2" in raw
        assert b"LEARNING_RATE" in raw and b"learning_rate" not in raw  # the settings' own names
        assert (b"best_epoch/test_MSE_eps2" in raw) == trial.name.startswith("full")
    assert figure(tmp_path, "lj_7_search.png").stat().st_size > 5000
    again = run_script(ROOT / "lj_7_hyperparameter_search.py", "--quick", env=output(tmp_path))
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(list((out / "results").glob("*.csv"))) == 2 and len(list((out / "runs").iterdir())) == 12
    assert read_csv(table) == rows  # nothing overwritten


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("lj_4_learning_curve.py", ["--n-seeds", "1"], "N_SEEDS must be an integer >= 2"),
        ("lj_4_learning_curve.py", ["--small", "40,40,4", "--large", "10,8,1"], "SMALL must have fewer"),
        ("lj_5_bias_variance.py", ["--n-seeds", "1"], "N_SEEDS must be an integer >= 2"),
        ("lj_4_learning_curve.py", ["--large", "40,0,4"], "LARGE must be (basis functions, width, depth)"),
        ("lj_5_bias_variance.py", ["--l2-strengths", "0,-1"], "L2_STRENGTHS must be a list of numbers >= 0"),
        ("lj_5_bias_variance.py", ["--learning-rate", "-1"], "LEARNING_RATE must be a finite number > 0"),
        ("lj_6_optimizers.py", ["--batch-size", "100"], "BATCH_SIZE must be <= N_TRAIN"),
        ("lj_6_optimizers.py", ["--momentum", "1.5"], "MOMENTUM must be a number in [0, 1)"),
        ("lj_6_optimizers.py", ["--learning-rate", "100"], "diverged"),
        ("lj_7_hyperparameter_search.py", ["--top-k", "0"], "TOP_K must be an integer >= 1"),
        (
            "lj_7_hyperparameter_search.py",
            ["--learning-rate-range", "0.1,0.01"],
            "LEARNING_RATE_RANGE must be",
        ),
        ("lj_7_hyperparameter_search.py", ["--grid-width", "8,abc"], "GRID_WIDTH must be"),
    ],
)
def test_bad_hyperparameters_give_one_line_errors(script, args, message, tmp_path):
    extra = ["--quick"] if "diverged" in message else []
    res = run_script(ROOT / script, *args, *extra, cwd=tmp_path, env={"ML_TUTORIAL_OUTPUT": str(tmp_path)})
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], res.stderr
    assert not any(tmp_path.iterdir())  # nothing written
