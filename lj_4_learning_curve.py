"""lj_4_learning_curve.py: slide "Learning curve".

The same two networks, a small one (97 parameters) and a large one (the 6,601 of lj_1), are trained on
more and more Lennard-Jones points, N = 10 ... 320. Each size is repeated REPEATS times on different random
training sets of the same size (and different initial weights), and each model is measured on 500 unseen
validation points.

What to look for:
  figures/lj_4_learning_curve.png, left: training (dashed) and validation (solid) MSE against the number of
    training points, mean over the repeats; the band spans the best to the worst validation result.
    * With enough data the validation and training loss converge: at N = 10 the large model fits its
      points almost exactly while its validation error is millions of times higher; at N = 320 the two
      agree.
    * The small model cannot fit the data exactly even with many points: its curves meet early, at a
      higher error (bias). The large model, given enough data, ends about 100 times lower.
  right: the spread of the validation MSE between the repeats (standard deviation), the slide's variance:
    "models trained with different, but equal number of points yield different results".
    * Enough data removes variance: the spread falls by orders of magnitude as N grows.
    * The more parameters, the more variance: in the low-data regime (N <= 80) the large model's results
      spread more than the small model's. (With enough data the large model's spread vanishes; what the
      small model keeps is the error of a model too simple for the curve.)
  We are always working in the low-data regime, on the left of these plots.
"""

# %% Hyperparameters: edit these, or override on the command line (--repeats 4 --epochs 500)
N_TRAIN = [10, 20, 40, 80, 160, 320]  # training set sizes
REPEATS = 8                # random training sets (and initial weights) per size
N_VALIDATION = 500         # unseen points that measure each model
R_MIN, R_MAX = 0.9, 2.0    # range of the data (sigma)
NOISE = 0.0                # std of noise on the training energies (epsilon)
BASIS_MIN, BASIS_MAX = 0.9, 3.0  # the Gaussian basis spans this range (sigma)
SMALL = (10, 8, 1)         # small model: Gaussian basis functions, width, depth (hidden layers)
LARGE = (40, 40, 4)        # large model: lj_1's 6,601-parameter network
EPOCHS = 1000              # full-batch Adam steps per model
LEARNING_RATE = 5e-3
SEED = 0
QUICK = {"N_TRAIN": [10, 40, 160], "REPEATS": 3, "EPOCHS": 150}  # --quick: settings for tests

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find common/ from any folder
from common import cli

cli.apply_overrides(globals(), quick=QUICK)
cli.check_standard(globals())  # EPOCHS, LEARNING_RATE, NOISE, R_MIN/R_MAX
cli.check(len(N_TRAIN) >= 2 and min(N_TRAIN) >= 1, f"N_TRAIN needs >= 2 sizes, each >= 1; got {N_TRAIN}")
cli.check(REPEATS >= 2, f"REPEATS must be >= 2 (a spread needs two results), got {REPEATS}")
cli.check(N_VALIDATION >= 1, f"N_VALIDATION must be >= 1, got {N_VALIDATION}")
for _name in ("SMALL", "LARGE"):
    _value = globals()[_name]
    cli.check(len(_value) == 3 and min(_value) >= 1,
              f"{_name} must be three numbers >= 1 (basis functions, width, depth), got {_value}")

import matplotlib.pyplot as plt
import numpy as np
import torch

from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.sweeps import mse_of, train_many
from common.training import set_seed

torch.set_num_threads(1)  # tiny networks: one thread is fastest
N_TRAIN = sorted(N_TRAIN)

# %% 1 Data
# Repeat k draws its points from its own pool of random distances; a larger training set of repeat k
# contains the smaller ones (more data added to the same experiment).
pools = [LJDataset(max(N_TRAIN), R_MIN, R_MAX, noise=NOISE, seed=SEED + k, spacing="random")
         for k in range(REPEATS)]
orders = [torch.randperm(max(N_TRAIN), generator=torch.Generator().manual_seed(SEED + k))
          for k in range(REPEATS)]
val_set = LJDataset(N_VALIDATION, R_MIN, R_MAX, seed=SEED + 1000, spacing="random")  # exact energies
print(f"training sets of {', '.join(map(str, N_TRAIN))} random points in [{R_MIN}, {R_MAX}] sigma, "
      f"{REPEATS} repeats each; {N_VALIDATION} validation points")

# %% 2 Model
models_spec = {"small": SMALL, "large": LARGE}
for name, (n_basis, width, depth) in models_spec.items():
    n_params = count_parameters(LJModel(GaussianBasis(n_basis, BASIS_MIN, BASIS_MAX), width, depth))
    print(f"{name} model: {n_basis} Gaussians, {depth} x {width} GELU: {n_params:,} trainable parameters")

# %% 3 Cost function
# Mean squared error over a model's own training points (epsilon^2); common.sweeps.train_many computes it
# for all repeats at once.

# %% 4 Find the parameters: REPEATS models per size, trained together (full batch, Adam)
train_mse = {name: np.zeros((len(N_TRAIN), REPEATS)) for name in models_spec}
val_mse = {name: np.zeros((len(N_TRAIN), REPEATS)) for name in models_spec}
for name, (n_basis, width, depth) in models_spec.items():
    descriptor = GaussianBasis(n_basis, BASIS_MIN, BASIS_MAX)
    for i, n in enumerate(N_TRAIN):
        models = []
        for k in range(REPEATS):
            set_seed(SEED + k)
            models.append(LJModel(descriptor, width, depth))
        r = [pools[k].r[orders[k][:n]] for k in range(REPEATS)]
        energy = [pools[k].energy[orders[k][:n]] for k in range(REPEATS)]
        train_mse[name][i] = train_many(models, r, energy, EPOCHS, LEARNING_RATE)
        val_mse[name][i] = mse_of(models, val_set.r, val_set.energy)
        if not np.isfinite(val_mse[name][i]).all():
            cli.fail(f"training diverged for the {name} model: lower LEARNING_RATE")

print("MSE (epsilon^2), mean over repeats; validation: mean +- standard deviation")
print(f"{'N':>5} | {'small: train':>12} {'validation':>20} | {'large: train':>12} {'validation':>20}")
for i, n in enumerate(N_TRAIN):
    cols = [f"{train_mse[m][i].mean():12.2e} {val_mse[m][i].mean():9.2e} +- {val_mse[m][i].std():7.1e}"
            for m in models_spec]
    print(f"{n:5d} | {cols[0]} | {cols[1]}")

# %% 5 Look at the result
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
colors = {"small": "tab:blue", "large": "tab:red"}
for name, (n_basis, width, depth) in models_spec.items():
    n_params = count_parameters(LJModel(GaussianBasis(n_basis, BASIS_MIN, BASIS_MAX), width, depth))
    c = colors[name]
    ax1.plot(N_TRAIN, val_mse[name].mean(1), "o-", color=c, label=f"{name} ({n_params:,} par.): validation")
    ax1.fill_between(N_TRAIN, val_mse[name].min(1), val_mse[name].max(1), color=c, alpha=0.15)
    ax1.plot(N_TRAIN, train_mse[name].mean(1), "s--", color=c, label=f"{name}: training")
    ax2.plot(N_TRAIN, val_mse[name].std(1), "o-", color=c, label=f"{name} ({n_params:,} parameters)")
ax1.set(xscale="log", yscale="log", xlabel="number of training points", ylabel="MSE (epsilon$^2$)",
        title=f"learning curves: mean of {REPEATS} repeats (band: validation, best to worst)")
ax1.legend(fontsize=8)
ax2.set(xscale="log", yscale="log", xlabel="number of training points",
        ylabel="std. dev. of validation MSE over repeats (epsilon$^2$)",
        title="variance: how much models trained on different sets differ")
ax2.legend(fontsize=8)
for ax in (ax1, ax2):
    ax.set_xticks(N_TRAIN, [str(n) for n in N_TRAIN])
save_figure(fig, "lj_4_learning_curve")
show()
gaps = {m: val_mse[m].mean(1) / train_mse[m].mean(1) for m in models_spec}
print(f"done: validation/training MSE ratio of the large model {gaps['large'][0]:.0e} at N = {N_TRAIN[0]}, "
      f"{gaps['large'][-1]:.1f} at N = {N_TRAIN[-1]}")
