"""lj_7_hyperparameter_search.py: slide "Best practices when developing an NN".

"Hyperparameter tuning on even just a few epochs to screen out unpromising parameter values" and "use
grid search/random search of hyperparameters". Four hyperparameters are searched: learning rate, width,
depth and L2 strength.
  1. grid search: every combination of a few values (GRID_*), 16 candidates by default;
     random search: N_RANDOM candidates drawn from ranges (*_RANGE), learning rate and L2 on a log scale.
  2. screening: every candidate is trained for only SCREEN_EPOCHS epochs and ranked by validation MSE.
  3. the TOP_K best are trained fully (FULL_EPOCHS, early stopping) and only these are tested, once.
Trials run in N_WORKERS parallel processes (1 = one after another in this process).

What to look for:
  the printed table (also saved as results/lj7_search_<date-time>.csv, a new file per search): candidates
    ranked by their screening validation MSE; the finalists with their full-training validation and test
    MSE; the best model is the finalist with the lowest validation MSE, and its test MSE is the estimate
    of how good it really is.
  figures/lj_7_search.png, left: screening validation MSE against learning rate, grid (squares) and random
    (circles) candidates, colour = width: too small a learning rate learns nothing in a few epochs, too
    large an L2 or learning rate stalls; random search covers many more different values of each
    hyperparameter than a grid of the same size. right: the finalists' validation loss during full
    training.
  TensorBoard (tensorboard --logdir=runs, http://localhost:6006/): the folder runs/lj7_search_<date-time>
    holds one subfolder per trial; the HPARAMS tab compares every candidate's settings and metrics
    (table, parallel coordinates, scatter plots), SCALARS their loss curves.
"""

# %% Hyperparameters: edit these, or override on the command line (--n-random 8 --n-workers 1)
N_TRAIN = 90               # training points; validation and test sets have N_TRAIN // 3 each
R_MIN, R_MAX = 0.95, 2.5   # sigma
NOISE = 0.0                # std of noise on E (epsilon)
N_BASIS = 40               # Gaussian basis functions ...
BASIS_MIN, BASIS_MAX = 0.9, 3.0  # ... with centres over this range (sigma)
GRID_LEARNING_RATE = [1e-3, 1e-2]  # grid search: every combination of these values
GRID_WIDTH = [8, 32]
GRID_DEPTH = [1, 3]
GRID_L2 = [0.0, 1e-4]
N_RANDOM = 16              # random search: this many candidates from these ranges
LEARNING_RATE_RANGE = (1e-4, 3e-2)  # log-uniform
WIDTH_RANGE = (4, 64)      # log-uniform, rounded
DEPTH_RANGE = (1, 4)       # uniform integers
L2_RANGE = (1e-6, 1e-2)    # log-uniform
BATCH_SIZE = 16
SCREEN_EPOCHS = 40         # a few epochs per candidate
TOP_K = 3                  # finalists trained fully and tested
FULL_EPOCHS = 600
PATIENCE = 100             # early stopping of the full trainings
N_WORKERS = 2              # parallel processes (1 = no parallelism); a 2-core laptop: 2
SEED = 0
RUNS_DIR = ""              # TensorBoard folder; "" = the project's runs/
RESULTS_DIR = ""           # CSV tables; "" = the project's results/
QUICK = {"GRID_LEARNING_RATE": [1e-2], "GRID_WIDTH": [8, 16], "GRID_DEPTH": [1], "GRID_L2": [0.0],
         "N_RANDOM": 2, "SCREEN_EPOCHS": 5, "TOP_K": 2, "FULL_EPOCHS": 20, "N_TRAIN": 30}  # for tests

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find common/ from any folder
from common import cli

cli.apply_overrides(globals(), quick=QUICK)
cli.check_standard(globals())  # BATCH_SIZE, PATIENCE, N_BASIS, NOISE, R_MIN/R_MAX
cli.check(N_TRAIN >= 3, f"N_TRAIN must be >= 3, got {N_TRAIN}")
for _name in ("GRID_LEARNING_RATE", "GRID_WIDTH", "GRID_DEPTH", "GRID_L2"):
    cli.check(len(globals()[_name]) >= 1, f"{_name} needs at least one value")
cli.check(min(GRID_LEARNING_RATE) > 0, f"GRID_LEARNING_RATE values must be > 0, got {GRID_LEARNING_RATE}")
cli.check(min(GRID_WIDTH) >= 1 and min(GRID_DEPTH) >= 1, "GRID_WIDTH and GRID_DEPTH values must be >= 1")
cli.check(min(GRID_L2) >= 0, f"GRID_L2 values must be >= 0, got {GRID_L2}")
cli.check(N_RANDOM >= 0, f"N_RANDOM must be >= 0, got {N_RANDOM}")
for _name, _low in (("LEARNING_RATE_RANGE", 0), ("WIDTH_RANGE", 1), ("DEPTH_RANGE", 1), ("L2_RANGE", 0)):
    _r = globals()[_name]
    cli.check(len(_r) == 2 and _low <= _r[0] <= _r[1] and (_r[0] > 0 or _low > 0),
              f"{_name} must be two numbers low,high with {'0 <' if _low == 0 else f'{_low} <='} low <= high, "
              f"got {_r}")
for _name in ("SCREEN_EPOCHS", "FULL_EPOCHS", "TOP_K", "N_WORKERS"):
    cli.check(globals()[_name] >= 1, f"{_name} must be >= 1, got {globals()[_name]}")

import time

import matplotlib.pyplot as plt
import numpy as np

from common import search
from common.lj import LJDataset
from common.paths import RUNS_DIR as DEFAULT_RUNS_DIR
from common.plotting import save_figure, show
from common.runs import new_run_dir, settings_name

# Worker processes (N_WORKERS > 1) import this file again to find its functions; everything below runs only
# in the process you started (`if __name__ == "__main__":`).

# %% 1 Data
if __name__ == "__main__":
    n_other = max(1, N_TRAIN // 3)
    train_set = LJDataset(N_TRAIN, R_MIN, R_MAX, noise=NOISE, seed=SEED, spacing="random")
    val_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 1, spacing="random")
    test_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 2, spacing="random")
    data = {name: (d.r, d.energy) for name, d in
            (("train", train_set), ("validation", val_set), ("test", test_set))}
    print(f"{len(train_set)} training, {len(val_set)} validation, {len(test_set)} test points in "
          f"[{R_MIN}, {R_MAX}] sigma")

# %% 2 Model: the candidates (each a Gaussian basis + GELU network of some width and depth)
if __name__ == "__main__":
    candidates = [("grid", hp) for hp in search.grid(GRID_LEARNING_RATE, GRID_WIDTH, GRID_DEPTH, GRID_L2)]
    candidates += [("random", hp) for hp in search.random_candidates(
        N_RANDOM, LEARNING_RATE_RANGE, WIDTH_RANGE, DEPTH_RANGE, L2_RANGE, seed=SEED)]
    n_grid = len(candidates) - N_RANDOM
    print(f"{len(candidates)} candidates: {n_grid} on the grid, {N_RANDOM} at random")

# %% 3 Cost function
# MSE on the training points, plus (l2 / 2) * sum of squared parameters (Adam's weight_decay = l2); the
# candidates are compared by their MSE on the validation points, the finalists tested on the test points.

# %% 4 Find the parameters: screen every candidate on a few epochs, train the best fully, test them
if __name__ == "__main__":
    search_dir = new_run_dir(Path(RUNS_DIR) if RUNS_DIR else DEFAULT_RUNS_DIR,
                             "lj7_search_" + time.strftime("%Y%m%d-%H%M%S"))
    shared = dict(n_basis=N_BASIS, basis_range=(BASIS_MIN, BASIS_MAX), batch_size=BATCH_SIZE, seed=SEED,
                  train=data["train"], validation=data["validation"])

    def trial(stage, kind, index, hp, **more):
        name = f"{stage}_{kind}_{index:02d}_" + settings_name(
            lr=hp["learning_rate"], w=hp["width"], d=hp["depth"], l2=float(hp["l2"]))
        return dict(shared, hparams=hp, name=name, stage=stage, search=kind, log_dir=search_dir / name,
                    **more)

    screen_trials = [trial("screen", kind, i, hp, epochs=SCREEN_EPOCHS)
                     for i, (kind, hp) in enumerate(candidates)]
    t0 = time.perf_counter()
    pool = search.worker_pool(N_WORKERS)
    try:
        screened = search.run_trials(screen_trials, pool)
        for result, (kind, _) in zip(screened, candidates):
            result["search"] = kind
        order = sorted(range(len(screened)), key=lambda i: screened[i]["validation_mse"])
        finalists = order[:TOP_K]
        print(f"screened {len(screened)} candidates on {SCREEN_EPOCHS} epochs in "
              f"{time.perf_counter() - t0:.1f} s ({N_WORKERS} worker{'s' * (N_WORKERS > 1)})")
        full_trials = [trial("full", screened[i]["search"], i, candidates[i][1], epochs=FULL_EPOCHS,
                             patience=PATIENCE, test=data["test"]) for i in finalists]
        full = search.run_trials(full_trials, pool)
    finally:
        if pool is not None:
            pool.shutdown()

    rows = []
    for rank, i in enumerate(order, start=1):
        row = dict(screened[i], rank=rank, screen_validation_mse=screened[i]["validation_mse"],
                   full_validation_mse="", test_mse="", best_epoch="", epochs_run=screened[i]["epochs_run"])
        if i in finalists:
            f = full[finalists.index(i)]
            row.update(full_validation_mse=f["validation_mse"], test_mse=f["test_mse"],
                       best_epoch=f["best_epoch"], epochs_run=f["epochs_run"])
        rows.append(row)
    best = min(full, key=lambda f: f["validation_mse"])
    csv_path = search.write_csv(rows, Path(RESULTS_DIR) if RESULTS_DIR else search.RESULTS_DIR,
                                search_dir.name)

    def fmt(x):
        return f"{x:.2e}" if isinstance(x, float) else str(x)

    print("\nrank search  learning_rate width depth       l2 | validation MSE (epsilon^2): screen   full"
          "     | test MSE")
    for row in rows:
        print(f"{row['rank']:4d} {row['search']:6s} {row['learning_rate']:13.3g} {row['width']:5d} "
              f"{row['depth']:5d} {row['l2']:8.2g} | {fmt(row['screen_validation_mse']):>36s} "
              f"{fmt(row['full_validation_mse']):>9s} | {fmt(row['test_mse'])}")
    print(f"\ntable saved: {csv_path}")
    print(f"TensorBoard: {search_dir} (tensorboard --logdir=runs, then http://localhost:6006/, HPARAMS tab)")

# %% 5 Look at the result
if __name__ == "__main__":
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    widths = np.array([r["width"] for r in screened])
    for kind, marker in (("grid", "s"), ("random", "o")):
        idx = [i for i, r in enumerate(screened) if r["search"] == kind]
        if idx:
            sc = ax1.scatter([screened[i]["learning_rate"] for i in idx],
                             [screened[i]["validation_mse"] for i in idx], c=np.log2(widths[idx]),
                             cmap="viridis", vmin=np.log2(widths.min()), vmax=np.log2(max(widths.max(), 2)),
                             marker=marker, s=45, edgecolors="k", label=f"{kind} search")
    ax1.scatter([screened[i]["learning_rate"] for i in finalists],
                [screened[i]["validation_mse"] for i in finalists], s=200, facecolors="none",
                edgecolors="r", linewidths=2, label=f"the {len(finalists)} finalists")
    cbar = fig.colorbar(sc, ax=ax1, label="width")
    ticks = [w for w in (2, 4, 8, 16, 32, 64, 128, 256) if widths.min() <= w <= widths.max()]
    cbar.set_ticks(np.log2(ticks), labels=[str(w) for w in ticks])
    ax1.set(xscale="log", yscale="log", xlabel="learning rate",
            ylabel=f"validation MSE after {SCREEN_EPOCHS} epochs (epsilon$^2$)",
            title=f"screening {len(screened)} candidates")
    ax1.legend(fontsize=8)
    for f in full:
        ax2.plot(np.arange(1, len(f["curve"]) + 1), f["curve"],
                 label=f"lr {f['learning_rate']:.3g}, width {f['width']}, depth {f['depth']}, "
                       f"L2 {f['l2']:.2g}" + ("  (best)" if f is best else ""))
    ax2.set(yscale="log", xlabel="epoch", ylabel="validation MSE (epsilon$^2$)",
            title="the finalists, trained fully (early stopping)")
    ax2.legend(fontsize=8)
    save_figure(fig, "lj_7_search")
    show()
    print(f"done: best lr {best['learning_rate']:.3g}, width {best['width']}, depth {best['depth']}, "
          f"L2 {best['l2']:.2g}: validation MSE {best['validation_mse']:.2e}, test MSE "
          f"{best['test_mse']:.2e} epsilon^2")
