"""lj_7_hyperparameter_search.py: slide "Best practices when developing an NN" (slide 14).

"Hyperparameter tuning on even just a few epochs to screen out unpromising parameter values" and "use
grid search/random search of hyperparameters". Four hyperparameters are searched: learning rate, width,
depth and L2 strength. Every candidate is screened on a few epochs; the best few are trained fully and
only these are tested, once. Every trial goes to TensorBoard's HPARAMS tab, the table to results/.
"""

import csv
import itertools
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel
from common.plotting import save_figure, show
from common.runs import (
    BEST,
    RESULTS_DIR,
    RUNS_DIR,
    log_hparams,
    loss_writer,
    new_run_dir,
    settings_name,
    short,
)
from common.settings import fail, setup
from common.training import evaluate, fit

# %% Settings: edit these, or override them on the command line (--n-random 8 --top-k 2)
N_TRAIN = 90  # training points; validation and test sets have N_TRAIN // 3 each
R_MIN = 0.95  # the data start at this distance (sigma) ...
R_MAX = 2.5  # ... and end at this one (sigma)
NOISE = 0.0  # std of noise on E (epsilon)
N_BASIS = 40  # Gaussian basis functions ...
BASIS_MIN = 0.9  # the Gaussians' centres spread from this distance (sigma) ...
BASIS_MAX = 3.0  # ... to this one (sigma)
GRID_LEARNING_RATE = [1e-3, 1e-2]  # grid search: every combination of these values
GRID_WIDTH = [8, 32]
GRID_DEPTH = [1, 3]
GRID_L2 = [0.0, 1e-4]
N_RANDOM = 16  # random search: this many candidates from these ranges
LEARNING_RATE_RANGE = (1e-4, 3e-2)  # log-uniform
WIDTH_RANGE = (4, 64)  # log-uniform, rounded
DEPTH_RANGE = (1, 4)  # uniform integers
L2_RANGE = (1e-6, 1e-2)  # log-uniform
BATCH_SIZE = 16
SCREEN_EPOCHS = 40  # a few epochs per candidate
TOP_K = 3  # finalists trained fully and tested
FULL_EPOCHS = 600
PATIENCE = 100  # early stopping of the full trainings
SEED = 0
setup(globals(), "lj_7_hyperparameter_search")  # command-line overrides and checks

# %% 1 Data
# Training, validation and test points, as in lj_3. The validation points rank the candidates; the
# test points are used only for the finalists, once.
n_other = max(1, N_TRAIN // 3)
train_set = LJDataset(N_TRAIN, R_MIN, R_MAX, noise=NOISE, seed=SEED, spacing="random")
val_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 1, spacing="random")
test_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 2, spacing="random")
print(
    f"{len(train_set)} training, {len(val_set)} validation, {len(test_set)} test points in "
    f"[{R_MIN}, {R_MAX}] sigma"
)

# %% 2 Model
# The candidates: each a Gaussian basis + GELU network of some width and depth, trained with some
# learning rate and L2 strength. Grid search takes every combination of a few values; random search
# draws each value anew (learning rate, L2 and width on a log scale), so it tries many more different
# values of each hyperparameter for the same number of trials.
grid = [
    dict(learning_rate=lr, width=w, depth=d, l2=l2)
    for lr, w, d, l2 in itertools.product(GRID_LEARNING_RATE, GRID_WIDTH, GRID_DEPTH, GRID_L2)
]
rng = np.random.default_rng(SEED)


def log_uniform(low, high):
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


randoms = [
    dict(
        learning_rate=float(f"{log_uniform(*LEARNING_RATE_RANGE):.3g}"),
        width=round(log_uniform(*WIDTH_RANGE)),
        depth=int(rng.integers(DEPTH_RANGE[0], DEPTH_RANGE[1] + 1)),
        l2=float(f"{log_uniform(*L2_RANGE):.3g}"),
    )
    for _ in range(N_RANDOM)
]
candidates = [dict(hp, search="grid") for hp in grid] + [dict(hp, search="random") for hp in randoms]
print(f"{len(candidates)} candidates: {len(grid)} on the grid, {N_RANDOM} at random")

# %% 3 Cost function
# Each candidate minimises the MSE on its training points plus :math:`\frac{\lambda}{2} \sum_j \theta_j^2`,
# half its L2 strength :math:`\lambda` times the sum of its squared parameters (Adam's weight_decay =
# :math:`\lambda`). Candidates are compared by their MSE on the validation points.
loss_fn = torch.nn.MSELoss()

# %% 4 Find the parameters
# One trial = build a candidate, train it (common.training.fit, early stopping if PATIENCE is given),
# measure it, and log it to TensorBoard in its own folder. First every candidate for SCREEN_EPOCHS
# epochs, then the TOP_K best by validation MSE for FULL_EPOCHS, tested once. A trial's folder is named
# after the trial first (``screen03_lr0.01_w16_d2_L2-0_grid``), then this search (``lj7_<date-time>``).
search = "lj7_" + time.strftime("%m%d-%H%M%S")
n_try = 1
while (RESULTS_DIR / f"{search}.csv").exists() or list(RUNS_DIR.glob(f"*_{search}")):
    n_try += 1  # a second search within the same second: never mix two searches
    search = f"lj7_{time.strftime('%m%d-%H%M%S')}-{n_try}"
whole = {
    name: [(d.r, d.energy)] for name, d in (("train", train_set), ("validation", val_set), ("test", test_set))
}  # all points as one batch


def run_trial(hp, stage, index, epochs, patience=None):
    settings = {  # every setting of the trial, named as at the top of lj_3 (one column each in HPARAMS)
        **{name: globals()[name] for name in "N_TRAIN R_MIN R_MAX NOISE N_BASIS BASIS_MIN BASIS_MAX".split()},
        **{"DESCRIPTOR": "gaussian", "ACTIVATION": "gelu", "OPTIMIZER": "adam"},  # the same in every trial
        **{"LEARNING_RATE": hp["learning_rate"], "WIDTH": hp["width"], "DEPTH": hp["depth"], "L2": hp["l2"]},
        **{"BATCH_SIZE": BATCH_SIZE, "EPOCHS": epochs, "PATIENCE": patience or epochs, "SEED": SEED},
    }  # (a screening trial has no early stopping: its PATIENCE is its EPOCHS)
    torch.manual_seed(SEED)
    model = LJModel(
        GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX), hp["width"], hp["depth"], settings["ACTIVATION"]
    )
    loader = DataLoader(TensorDataset(train_set.r, train_set.energy), batch_size=BATCH_SIZE, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["learning_rate"], weight_decay=hp["l2"])
    trial = f"{stage}{index:02d}_" + settings_name(lr=hp["learning_rate"], w=hp["width"], d=hp["depth"])
    name = f"{trial}_L2-{short(hp['l2'])}_{hp['search']}_{search}"
    writer = loss_writer(new_run_dir(RUNS_DIR, name))
    # train; fit restores the weights of the best validation epoch at the end
    hist = fit(model, loader, optimizer, epochs, whole["validation"], patience, loss_fn, writer=writer)
    finite = [v for v in hist.validation if math.isfinite(v)]
    result = dict(hp, name=name, best_epoch=hist.best_epoch + 1, epochs_run=hist.stopped_epoch + 1)
    result["validation_mse"] = min(finite) if finite else math.inf  # diverged: ranks last
    result.update(train_mse=evaluate(model, whole["train"], loss_fn), curve=hist.validation)
    metrics = {  # of the restored weights of the best validation epoch, not of the last epoch
        f"{BEST}train_MSE_eps2": result["train_mse"],
        f"{BEST}validation_MSE_eps2": result["validation_mse"],
        f"{BEST}epoch": result["best_epoch"],
    }
    if stage == "full":  # only the finalists see the test set
        result["test_mse"] = metrics[f"{BEST}test_MSE_eps2"] = evaluate(model, whole["test"], loss_fn)
    log_hparams(writer, dict(settings, search=hp["search"], stage=stage), metrics, step=result["best_epoch"])
    writer.close()
    return result


t0 = time.perf_counter()
screened = [run_trial(hp, "screen", i, SCREEN_EPOCHS) for i, hp in enumerate(candidates)]
order = sorted(range(len(screened)), key=lambda i: screened[i]["validation_mse"])
finalists = order[:TOP_K]
print(f"screened {len(screened)} candidates on {SCREEN_EPOCHS} epochs in {time.perf_counter() - t0:.1f} s")
full = [run_trial(candidates[i], "full", i, FULL_EPOCHS, PATIENCE) for i in finalists]
best = min(full, key=lambda f: f["validation_mse"])
if not math.isfinite(best["validation_mse"]):
    fail("every finalist diverged: lower the learning rates (GRID_LEARNING_RATE, LEARNING_RATE_RANGE)")

COLUMNS = ["rank", "search", "name", "learning_rate", "width", "depth", "l2", "screen_validation_mse"]
COLUMNS += ["full_validation_mse", "test_mse", "best_epoch", "epochs_run"]  # the table's columns
rows = []
for rank, i in enumerate(order, start=1):
    row = dict(screened[i], rank=rank, screen_validation_mse=screened[i]["validation_mse"])
    row.update(full_validation_mse="", test_mse="", best_epoch="")  # filled in for the finalists
    if i in finalists:
        f = full[finalists.index(i)]
        row.update(
            full_validation_mse=f["validation_mse"], test_mse=f["test_mse"], best_epoch=f["best_epoch"]
        )
        row["epochs_run"] = f["epochs_run"]
    rows.append(row)
RESULTS_DIR.mkdir(parents=True, exist_ok=True)
csv_path = RESULTS_DIR / f"{search}.csv"  # named after the search, as its TensorBoard folders: new every run
with csv_path.open("x", newline="") as f:
    table = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
    table.writeheader()
    table.writerows(rows)


def fmt(x):
    return f"{x:.2e}" if isinstance(x, float) else str(x)


print(
    "\nrank search  learning_rate width depth       l2 | validation MSE (epsilon^2): screen   full"
    "     | test MSE"
)
for row in rows:
    print(
        f"{row['rank']:4d} {row['search']:6s} {row['learning_rate']:13.3g} {row['width']:5d} "
        f"{row['depth']:5d} {row['l2']:8.2g} | {fmt(row['screen_validation_mse']):>36s} "
        f"{fmt(row['full_validation_mse']):>9s} | {fmt(row['test_mse'])}"
    )
print(f"\ntable saved: {csv_path}")
print(
    f"TensorBoard: {RUNS_DIR}/*_{search} (tensorboard --logdir=runs, then http://localhost:6006/, "
    f"HPARAMS tab; type {search} in the run filter to see only this search)"
)

# %% 5 Look at the result
# Top: the screening validation MSE against the learning rate, grid (squares) and random (circles)
# candidates, colour = width. Too small a learning rate learns little in a few epochs; random search
# covers many more different values than a grid of the same size. Bottom: the finalists' validation
# loss during their full training. The best model is the finalist with the lowest validation MSE; its
# test MSE is the estimate of how good it really is.
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 9), layout="constrained")
widths = np.array([r["width"] for r in screened])
for kind, marker in (("grid", "s"), ("random", "o")):
    idx = [i for i, r in enumerate(screened) if r["search"] == kind]
    if idx:
        points = ax1.scatter(
            [screened[i]["learning_rate"] for i in idx],
            [screened[i]["validation_mse"] for i in idx],
            c=np.log2(widths[idx]),
            cmap="viridis",
            vmin=np.log2(widths.min()),
            vmax=np.log2(max(widths.max(), 2)),
            marker=marker,
            s=45,
            edgecolors="k",
            label=f"{kind} search",
        )
ax1.scatter(
    [screened[i]["learning_rate"] for i in finalists],
    [screened[i]["validation_mse"] for i in finalists],
    s=200,
    facecolors="none",
    edgecolors="r",
    linewidths=2,
    label=f"the {len(finalists)} finalists",
)
colorbar = fig.colorbar(points, ax=ax1, label="width")
ticks = [w for w in (2, 4, 8, 16, 32, 64, 128, 256) if widths.min() <= w <= widths.max()]
colorbar.set_ticks(np.log2(ticks), labels=[str(w) for w in ticks])
ax1.set(
    xscale="log",
    yscale="log",
    xlabel="learning rate",
    ylabel=f"validation MSE after {SCREEN_EPOCHS} epochs (epsilon$^2$)",
    title=f"screening {len(screened)} candidates",
)
ax1.legend(fontsize=9)
for f in full:
    ax2.plot(
        np.arange(1, len(f["curve"]) + 1),
        f["curve"],
        label=f"lr {f['learning_rate']:.3g}, width {f['width']}, depth {f['depth']}, L2 {f['l2']:.2g}"
        + ("  (best)" if f is best else ""),
    )
ax2.set(
    yscale="log",
    xlabel="epoch",
    ylabel="validation MSE (epsilon$^2$)",
    title="the finalists, trained fully (early stopping)",
)
ax2.legend(fontsize=9)
save_figure(fig, "lj_7_search")
print(
    f"done: best lr {best['learning_rate']:.3g}, width {best['width']}, depth {best['depth']}, "
    f"L2 {best['l2']:.2g}: validation MSE {best['validation_mse']:.2e}, "
    f"test MSE {best['test_mse']:.2e} epsilon^2"
)
print(
    f"result: best_learning_rate={best['learning_rate']:.3g} best_width={best['width']} "
    f"best_depth={best['depth']} best_l2={best['l2']:.2g} validation_mse_eps2={best['validation_mse']:.2e} "
    f"test_mse_eps2={best['test_mse']:.2e}"
)
show()

# %% Exercises
# Worked answers: solutions/lj_7_hyperparameter_search.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In the top panel, which candidates screen worst? What do the four with a learning
#    rate below 3e-4 have in common, and how far above the best are they?
# 2. (predict, then run) Set SCREEN_EPOCHS = 10 (``--screen-epochs 10``). Will the same kind of candidate
#    reach the final round? Will the final model be as good, by its validation and by its test MSE?
# 3. (write code) Slide 14: "try to memorize a few data points first". Train the search's winning network
#    (width 32, depth 3, Adam with lr 0.01) full batch on only 5 points: after how many steps is the training
#    MSE below :math:`10^{-6}\,\varepsilon^2`? Then plant a classic bug (drop ``optimizer.zero_grad()``): does
#    the check catch it?
# 4. (write code) Draw 10,000 learning rates from LEARNING_RATE_RANGE log-uniformly (as the lesson does)
#    and 10,000 uniformly. What fraction of each falls in 1e-4 to 1e-3, 1e-3 to 1e-2 and 1e-2 to 3e-2?
#    How many of the lesson's 16 random candidates would you expect below 1e-3 with each?
