"""lj_4_learning_curve.py: slide "Learning curve" (slide 10).

The same two networks, a small one (97 parameters) and a large one (the 6,601 of lj_1), are trained on
more and more Lennard-Jones points, N = 10 ... 320 (TRAIN_SIZES), each size N_SEEDS times on different
random training sets (and initial weights), and measured on 500 unseen validation points. With enough
data the training and validation errors converge and the models trained on different sets stop
disagreeing (variance); the more parameters, the more variance. We always work in the low-data regime,
on the left of the plots.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.settings import fail, setup
from common.sweeps import mse_of, train_many

# %% Settings: edit these, or override them on the command line (--n-seeds 4 --train-sizes 10,40,160)
TRAIN_SIZES = [10, 20, 40, 80, 160, 320]  # training set sizes N (points)
N_SEEDS = 8  # repeats: random training sets (and initial weights) per size, >= 2 for a spread
N_VAL = 500  # unseen points that measure each model
R_MIN = 0.9  # the data start at this distance (sigma) ...
R_MAX = 2.0  # ... and end at this one (sigma)
NOISE = 0.0  # std of noise on the training energies (epsilon)
BASIS_MIN = 0.9  # the Gaussians' centres spread from this distance (sigma) ...
BASIS_MAX = 3.0  # ... to this one (sigma)
SMALL = (10, 8, 1)  # small model: Gaussian basis functions, width, depth (hidden layers)
LARGE = (40, 40, 4)  # large model: lj_1's 6,601-parameter network
EPOCHS = 1000  # full-batch Adam steps per model
LEARNING_RATE = 5e-3
SEED = 0
setup(globals(), "lj_4_learning_curve")  # command-line overrides and checks

# %% 1 Data
# Slide 10. Repeat k draws its points from its own pool of random distances; a larger training set of
# repeat k contains the smaller ones (more data added to the same experiment).
if N_SEEDS < 2:
    fail(f"N_SEEDS must be an integer >= 2 (a spread between repeats needs two), got {N_SEEDS}")
TRAIN_SIZES = sorted(set(TRAIN_SIZES))
pools = [
    LJDataset(max(TRAIN_SIZES), R_MIN, R_MAX, noise=NOISE, seed=SEED + k, spacing="random")
    for k in range(N_SEEDS)
]
orders = [
    torch.randperm(max(TRAIN_SIZES), generator=torch.Generator().manual_seed(SEED + k))
    for k in range(N_SEEDS)
]
val_set = LJDataset(N_VAL, R_MIN, R_MAX, seed=SEED + 1000, spacing="random")  # exact energies
print(
    f"training sets of {', '.join(map(str, TRAIN_SIZES))} random points in [{R_MIN}, {R_MAX}] sigma, "
    f"{N_SEEDS} repeats each; {N_VAL} validation points"
)

# %% 2 Model
# Two sizes of the network of lj_1: a small one and the large one. Look at their parameter counts.
models_spec = {"small": SMALL, "large": LARGE}
n_params = {}
for name, (n_basis, width, depth) in models_spec.items():
    n_params[name] = count_parameters(LJModel(GaussianBasis(n_basis, BASIS_MIN, BASIS_MAX), width, depth))
    print(
        f"{name} model: {n_basis} Gaussians, {depth} x {width} GELU: {n_params[name]:,} trainable parameters"
    )
if n_params["small"] >= n_params["large"]:
    fail(
        f"SMALL must have fewer parameters than LARGE, got {n_params['small']:,} and {n_params['large']:,}: "
        "swap or resize them"
    )


# %% 3 Cost function
# The mean squared error of a model over its own training points (:math:`\varepsilon^2`).
def cost(model, r, energy):
    return ((model(r) - energy) ** 2).mean()


# %% 4 Find the parameters
# One training, written out as in lj_1: full batch (all of its points in every step), Adam.
def train_one(model, r, energy):
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    for step in range(EPOCHS):
        optimizer.zero_grad()
        loss = cost(model, r, energy)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(cost(model, r, energy))


# A learning curve needs 2 x len(TRAIN_SIZES) x N_SEEDS such trainings. common.sweeps.train_many runs
# many of them at once (torch.func.vmap evaluates all networks in one call): the same result as one
# by one, only many times faster. Here is the proof on one training set, then the real work.
n_basis, width, depth = SMALL
r0, e0 = pools[0].r[orders[0][: TRAIN_SIZES[0]]], pools[0].energy[orders[0][: TRAIN_SIZES[0]]]
twins = []
for _ in range(2):
    torch.manual_seed(SEED)
    twins.append(LJModel(GaussianBasis(n_basis, BASIS_MIN, BASIS_MAX), width, depth))
plain = train_one(twins[0], r0, e0)
batched = train_many(twins[1:], r0, e0, EPOCHS, LEARNING_RATE)[0]
print(
    f"one training, small model, N = {TRAIN_SIZES[0]}: training MSE {plain:.4e} written out, "
    f"{batched:.4e} with train_many (epsilon^2)"
)

train_mse = {name: np.zeros((len(TRAIN_SIZES), N_SEEDS)) for name in models_spec}
val_mse = {name: np.zeros((len(TRAIN_SIZES), N_SEEDS)) for name in models_spec}
for name, (n_basis, width, depth) in models_spec.items():
    descriptor = GaussianBasis(n_basis, BASIS_MIN, BASIS_MAX)
    for i, n in enumerate(TRAIN_SIZES):
        models = []
        for k in range(N_SEEDS):
            torch.manual_seed(SEED + k)
            models.append(LJModel(descriptor, width, depth))
        r = [pools[k].r[orders[k][:n]] for k in range(N_SEEDS)]
        energy = [pools[k].energy[orders[k][:n]] for k in range(N_SEEDS)]
        train_mse[name][i] = train_many(models, r, energy, EPOCHS, LEARNING_RATE)
        val_mse[name][i] = mse_of(models, val_set.r, val_set.energy)
        if not np.isfinite(val_mse[name][i]).all():
            fail(
                f"training diverged for the {name} model: lower LEARNING_RATE (now {LEARNING_RATE:g}); "
                "nothing was saved"
            )

print("MSE (epsilon^2), mean over repeats; validation: mean +- standard deviation")
print(f"{'N':>5} | {'small: train':>12} {'validation':>20} | {'large: train':>12} {'validation':>20}")
for i, n in enumerate(TRAIN_SIZES):
    cols = [
        f"{train_mse[m][i].mean():12.2e} {val_mse[m][i].mean():9.2e} +- {val_mse[m][i].std():7.1e}"
        for m in models_spec
    ]
    print(f"{n:5d} | {cols[0]} | {cols[1]}")

# %% 5 Look at the result
# Left: training (dashed) and validation (solid) MSE against the number of training points, mean over
# the repeats; the band spans the best to the worst validation result. The large model fits 10 points
# almost exactly while its validation error is millions of times higher; with enough points the two
# curves meet. The small model meets early, at a higher error (bias).
# Right: the spread of the validation MSE between repeats (the slide's variance): it falls by orders of
# magnitude as N grows, and in the low-data regime it is larger for the large model.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
colors = {"small": "tab:blue", "large": "tab:red"}
for name in models_spec:
    c = colors[name]
    ax1.plot(
        TRAIN_SIZES,
        val_mse[name].mean(1),
        "o-",
        color=c,
        label=f"{name} ({n_params[name]:,} par.): validation",
    )
    ax1.fill_between(TRAIN_SIZES, val_mse[name].min(1), val_mse[name].max(1), color=c, alpha=0.15)
    ax1.plot(TRAIN_SIZES, train_mse[name].mean(1), "s--", color=c, label=f"{name}: training")
    ax2.plot(
        TRAIN_SIZES, val_mse[name].std(1), "o-", color=c, label=f"{name} ({n_params[name]:,} parameters)"
    )
ax1.set(
    xscale="log",
    yscale="log",
    xlabel="number of training points",
    ylabel="MSE (epsilon$^2$)",
    title=f"learning curves, mean of {N_SEEDS} repeats\n(band: validation, best to worst repeat)",
)
ax1.legend(fontsize=9)
ax2.set(
    xscale="log",
    yscale="log",
    xlabel="number of training points",
    ylabel="std. dev. of validation MSE over repeats (epsilon$^2$)",
    title="variance: how much models trained\non different sets of equal size differ",
)
ax2.legend(fontsize=9)
for ax in (ax1, ax2):
    ax.set_xticks(TRAIN_SIZES, [str(n) for n in TRAIN_SIZES])
save_figure(fig, "lj_4_learning_curve")
gaps = {m: val_mse[m].mean(1) / train_mse[m].mean(1) for m in models_spec}
print(
    f"done: validation/training MSE ratio of the large model {gaps['large'][0]:.0e} at N = {TRAIN_SIZES[0]}, "
    f"{gaps['large'][-1]:.1f} at N = {TRAIN_SIZES[-1]}"
)
print(
    f"result: large_ratio_first={gaps['large'][0]:.2e} large_ratio_last={gaps['large'][-1]:.2f} "
    f"large_val_mse_last_eps2={val_mse['large'][-1].mean():.2e} "
    f"small_val_mse_last_eps2={val_mse['small'][-1].mean():.2e}"
)
show()

# %% Exercises
# Worked answers: solutions/lj_4_learning_curve.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In the left panel, from which training-set size on has the large model the lower
#    validation MSE? How much lower is it at N = 320, and why has the small model stopped improving?
# 2. (predict, then run) Set NOISE = 0.05 (``--noise 0.05``: noise on the training energies only). Predict
#    where the large model's training MSE levels off at N = 320, whether its validation MSE (against exact
#    energies) rises, and which model is hardly affected. Then run and compare.
# 3. (write code) Fit a power law, :math:`\mathrm{MSE} \propto N^{-\alpha}`, to each model's curve over the
#    larger half of the sizes (N >= 80: a straight line in log-log, ``np.polyfit``). What are the two
#    exponents alpha, and what does a small alpha say about a model?
