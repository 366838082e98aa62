"""lj_4 ... lj_7 and their helpers (common/sweeps.py, common/surfaces.py, common/search.py): the slides'
claims checked on reduced settings, the search's table and TensorBoard logs, one-line errors."""

import csv
import math
import re

import numpy as np
import pytest
import torch

from common import search, surfaces
from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel
from common.sweeps import mse_of, train_many
from common.training import evaluate, make_optimizer, set_seed, train_epoch
from conftest import ROOT, run_script

NUMBER = r"([-+0-9.e]+)"


# --- common/sweeps.py: many trainings at once = the same trainings one by one -------------------------

@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_train_many_equals_independent_trainings(optimizer):
    descriptor = GaussianBasis(10, 0.9, 3.0)
    sets = [LJDataset(n, 0.9, 2.0, spacing="random", seed=n) for n in (5, 12, 8)]
    l2 = [0.0, 1e-2, 1e-3]
    models = []
    for k in range(3):
        set_seed(k)
        models.append(LJModel(descriptor, 8, 2))
    lr = 1e-2 if optimizer == "adam" else 1e-3
    together = train_many(models, [s.r for s in sets], [s.energy for s in sets], 50, lr, optimizer, l2=l2)
    for k, data in enumerate(sets):
        set_seed(k)
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


# --- common/surfaces.py: the 2-D valley of lj_6 ------------------------------------------------------------

def sgd(lr=0.1, **kw):
    return lambda params: torch.optim.SGD(params, lr=lr, **kw)


def test_surface_minima_and_saddle():
    x, y = surfaces.local_minimum()
    assert x == 0 and 2.0 < y < 3.0
    t = torch.tensor([0.0, y], dtype=torch.float64, requires_grad=True)
    surfaces.cost(t[0], t[1]).backward()
    assert t.grad.abs().max() < 1e-6  # a stationary point
    assert surfaces.cost(x, y) > 0.05 and surfaces.cost(0.0, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert surfaces.cost(*surfaces.barrier()) > surfaces.cost(x, y)  # a barrier separates them
    assert surfaces.cost(np.array([1.0]), np.array([0.0]))[0] == pytest.approx(surfaces.STEEP / 2)


def test_gradient_descent_stays_in_the_local_minimum_momentum_escapes():
    start = (1.5, 5.0)
    gd = surfaces.descend(sgd(), start, 400)
    assert not surfaces.in_global_basin(gd[-1])
    assert np.allclose(gd[-1], surfaces.local_minimum(), atol=1e-3)
    for kw in (dict(momentum=0.9), dict(momentum=0.9, nesterov=True)):
        path = surfaces.descend(sgd(**kw), start, 400)
        assert np.allclose(path[-1], surfaces.GLOBAL_MINIMUM, atol=1e-3), kw
    adam = surfaces.descend(lambda p: torch.optim.Adam(p, lr=0.1), start, 400)
    assert np.allclose(adam[-1], surfaces.GLOBAL_MINIMUM, atol=1e-3)


def test_momentum_builds_speed_along_the_shallow_direction():
    # From the floor of the valley (x = 0) far up the shallow direction, where the dip does not matter yet:
    start = (0.0, 8.0)
    gd = surfaces.descend(sgd(lr=0.1), start, 10)
    mom = surfaces.descend(sgd(lr=0.1, momentum=0.9), start, 10)
    steps_gd, steps_mom = -np.diff(gd[:, 1]), -np.diff(mom[:, 1])
    assert np.all(np.diff(steps_mom) > 0)  # momentum's steps grow ...
    assert np.all(np.diff(steps_gd) < 0)  # ... plain descent's shrink
    assert steps_mom[-1] > 4 * steps_gd[-1]


def test_noise_shakes_gradient_descent_out_of_the_local_minimum():
    escaped = [surfaces.in_global_basin(surfaces.descend(sgd(), (1.5, 5.0), 400, noise=3.0, seed=s)[-1])
               for s in range(20)]
    assert sum(escaped) >= 12  # most noisy runs end in the global minimum; plain descent never does


# --- common/search.py ----------------------------------------------------------------------------------

def test_grid_and_random_candidates():
    g = search.grid([1e-3, 1e-2], [8, 32], [1, 3], [0.0, 1e-4])
    assert len(g) == 16 and len({tuple(c.values()) for c in g}) == 16
    r = search.random_candidates(50, (1e-4, 3e-2), (4, 64), (1, 4), (1e-6, 1e-2), seed=1)
    assert len(r) == 50
    assert all(1e-4 <= c["learning_rate"] <= 3e-2 and 4 <= c["width"] <= 64 and 1 <= c["depth"] <= 4
               and 1e-6 <= c["l2"] <= 1e-2 for c in r)
    assert len({c["learning_rate"] for c in r}) == 50  # random search tries a new value every time
    assert r == search.random_candidates(50, (1e-4, 3e-2), (4, 64), (1, 4), (1e-6, 1e-2), seed=1)


def test_unique_path_never_reuses_a_name(tmp_path):
    paths = [search.unique_path(tmp_path, "table", ".csv") for _ in range(3)]
    assert [p.name for p in paths] == ["table.csv", "table_2.csv", "table_3.csv"]


def tiny_trials(log_dir=None):
    train, val = LJDataset(20, 0.95, 2.5, seed=0, spacing="random"), LJDataset(8, 0.95, 2.5, seed=1)
    return [dict(hparams=dict(learning_rate=lr, width=8, depth=1, l2=0.0), name=f"t{i}", epochs=5,
                 batch_size=8, seed=0, n_basis=10, basis_range=(0.9, 3.0), train=(train.r, train.energy),
                 validation=(val.r, val.energy), log_dir=log_dir / f"t{i}" if log_dir else None)
            for i, lr in enumerate((1e-3, 1e-2, 3e-2))]


def test_parallel_trials_under_spawn_give_the_serial_results(tmp_path):
    serial = search.run_trials(tiny_trials())
    pool = search.worker_pool(2)
    try:
        parallel = search.run_trials(tiny_trials(tmp_path), pool)
    finally:
        pool.shutdown()
    assert [r["validation_mse"] for r in parallel] == pytest.approx([r["validation_mse"] for r in serial])
    assert all(math.isnan(r["test_mse"]) for r in serial)  # no test set given: not tested
    for i in range(3):  # each trial logged in its own folder
        assert list((tmp_path / f"t{i}").glob("events.out.tfevents.*"))


# --- the scripts, on reduced settings ------------------------------------------------------------------

def table_rows(stdout, columns):
    """Rows 'N | ...' of a printed table, as lists of floats (the 'N' first)."""
    rows = []
    for line in stdout.splitlines():
        if re.match(r"^\s*\d[\d,]*\s+(\d[\d,]*\s+)?\|", line):
            rows.append([float(x.replace(",", "")) for x in re.findall(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?",
                                                                       line)])
    assert rows and all(len(r) == columns for r in rows), stdout
    return rows


def test_lj4_learning_curve_gap_shrinks_and_large_model_varies_more(tmp_path):
    (ROOT / "figures" / "lj_4_learning_curve.png").unlink(missing_ok=True)
    res = run_script(ROOT / "lj_4_learning_curve.py", "--quick", cwd=tmp_path)  # from another folder
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
    assert (ROOT / "figures" / "lj_4_learning_curve.png").stat().st_size > 5000
    again = run_script(ROOT / "lj_4_learning_curve.py", "--quick")  # a second time, from the repo
    assert again.returncode == 0, again.stderr[-2000:]
    assert table_rows(again.stdout, 7) == rows  # seeded: the same numbers


def test_lj5_optimum_size_and_l2_lets_the_large_model_win(tmp_path):
    (ROOT / "figures" / "lj_5_bias_variance.png").unlink(missing_ok=True)
    res = run_script(ROOT / "lj_5_bias_variance.py", "--widths", "4,64", "--l2-strengths", "0,0.001",
                     "--seeds", "4", "--epochs", "1000", cwd=tmp_path)   # from another folder
    assert res.returncode == 0, res.stderr[-2000:]
    # width params | no L2: mean sd | L2 1e-3: mean sd
    (w_small, _, a_mean, a_sd, b_mean, b_sd), (w_large, _, c_mean, c_sd, d_mean, d_sd) = table_rows(
        res.stdout, 6)
    assert (w_small, w_large) == (4, 64)
    assert a_mean < c_mean  # without L2 the larger model is worse: an optimum size
    assert d_mean < b_mean  # with L2 the larger model wins ...
    assert d_mean < a_mean  # ... and beats the best model without L2
    assert d_sd < c_sd / 2  # L2 lowers the variance of the large model
    assert "L2 0: best width 4" in res.stdout and "L2 0.001: best width 64" in res.stdout
    assert (ROOT / "figures" / "lj_5_bias_variance.png").stat().st_size > 5000
    again = run_script(ROOT / "lj_5_bias_variance.py", "--quick")  # a second time, from the repo
    assert again.returncode == 0, again.stderr[-2000:]


def test_lj6_optimizers(tmp_path):
    for name in ("lj_6_loss_vs_step.png", "lj_6_surface_paths.png"):
        (ROOT / "figures" / name).unlink(missing_ok=True)
    res = run_script(ROOT / "lj_6_optimizers.py", "--quick", cwd=tmp_path)  # from another folder
    assert res.returncode == 0, res.stderr[-2000:]
    final = {m.group(1).strip(): float(m.group(2)) for m in
             re.finditer(r"^(.+?) lr [0-9.e-]+: training MSE .* (\S+) epsilon\^2 after", res.stdout, re.M)}
    assert set(final) == {"gradient descent", "SGD (batches of 8)", "momentum", "Nesterov", "Adam"}
    assert final["momentum"] < final["gradient descent"] / 10
    assert final["Nesterov"] < final["gradient descent"] / 10
    assert final["Adam"] < final["gradient descent"] / 10
    ends = dict(re.findall(r"^surface, (.+?)\s*: ends at .*, the (global|LOCAL) minimum", res.stdout, re.M))
    assert ends == {"gradient descent": "LOCAL", "noisy gradient descent": "global", "momentum": "global",
                    "Nesterov": "global", "Adam": "global"}
    assert "Phys. Rep. 810" in (ROOT / "lj_6_optimizers.py").read_text()
    for name in ("lj_6_loss_vs_step.png", "lj_6_surface_paths.png"):
        assert (ROOT / "figures" / name).stat().st_size > 5000
    again = run_script(ROOT / "lj_6_optimizers.py", "--quick")  # a second time, from the repo
    assert again.returncode == 0, again.stderr[-2000:]


def read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_lj7_search_table_tensorboard_and_rerun(tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    args = ["--quick", "--runs-dir", runs, "--results-dir", results, "--n-workers", "2"]
    (ROOT / "figures" / "lj_7_search.png").unlink(missing_ok=True)
    res = run_script(ROOT / "lj_7_hyperparameter_search.py", *args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    (table,) = results.glob("*.csv")
    rows = read_csv(table)
    assert list(rows[0]) == list(search.COLUMNS)
    assert len(rows) == 4  # --quick: 2 grid + 2 random candidates
    assert {r["search"] for r in rows} == {"grid", "random"}
    screen = [float(r["screen_validation_mse"]) for r in rows]
    assert screen == sorted(screen) and [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    finalists = [r for r in rows if r["test_mse"]]
    assert finalists == rows[:2]  # TOP_K = 2: the two best screened, and only they are tested
    best = min(finalists, key=lambda r: float(r["full_validation_mse"]))
    done = res.stdout.strip().splitlines()[-1]
    assert f"validation MSE {float(best['full_validation_mse']):.2e}" in done
    assert f"test MSE {float(best['test_mse']):.2e}" in done
    (search_dir,) = runs.iterdir()
    trials = sorted(p.name for p in search_dir.iterdir())
    assert len(trials) == 6 and sum(t.startswith("screen_") for t in trials) == 4
    for trial in search_dir.iterdir():
        raw = b"".join(p.read_bytes() for p in trial.glob("events.out.tfevents.*"))
        assert b"_hparams_/session_start_info" in raw and b"hparam/validation_mse" in raw
        assert (b"hparam/test_mse" in raw) == trial.name.startswith("full_")
    assert (ROOT / "figures" / "lj_7_search.png").stat().st_size > 5000
    # a second time, from the repository folder (the first ran in tmp_path)
    again = run_script(ROOT / "lj_7_hyperparameter_search.py", *args[:-2], "--n-workers", "1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(list(results.glob("*.csv"))) == 2 and len(list(runs.iterdir())) == 2  # nothing overwritten
    assert read_csv(table) == rows


@pytest.mark.parametrize("script, args, message", [
    ("lj_4_learning_curve.py", ["--repeats", "1"], "REPEATS must be >= 2"),
    ("lj_4_learning_curve.py", ["--large", "40,0,4"], "LARGE must be three numbers >= 1"),
    ("lj_5_bias_variance.py", ["--l2-strengths", "0,-1"], "L2_STRENGTHS must be numbers >= 0"),
    ("lj_5_bias_variance.py", ["--learning-rate", "-1"], "LEARNING_RATE must be > 0"),
    ("lj_6_optimizers.py", ["--batch-size", "100"], "BATCH_SIZE must be <= N_POINTS"),
    ("lj_6_optimizers.py", ["--momentum", "1.5"], "MOMENTUM must be in [0, 1)"),
    ("lj_6_optimizers.py", ["--learning-rate", "100"], "diverged"),
    ("lj_7_hyperparameter_search.py", ["--n-workers", "0"], "N_WORKERS must be >= 1"),
    ("lj_7_hyperparameter_search.py", ["--learning-rate-range", "0.1,0.01"], "LEARNING_RATE_RANGE must be"),
    ("lj_7_hyperparameter_search.py", ["--grid-width", "8,abc"], "GRID_WIDTH must be"),
])
def test_bad_hyperparameters_give_one_line_errors(script, args, message, tmp_path):
    extra = ["--runs-dir", tmp_path / "runs", "--results-dir", tmp_path / "results"] if "lj_7" in script else []
    if "diverged" in message:
        extra = ["--quick"]
    res = run_script(ROOT / script, *args, *extra, cwd=tmp_path)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], res.stderr
    assert not any(tmp_path.iterdir())  # nothing written
