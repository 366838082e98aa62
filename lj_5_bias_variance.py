"""lj_5_bias_variance.py: slide "Bias variance tradeoff" (slide 11, with L2 regularization).

A fixed, small amount of data (20 noisy Lennard-Jones points) and networks of growing width, from 1 to
128 neurons per hidden layer. Each model is trained N_SEEDS times, each time on its own random 20 points
and from its own initial weights, without and with L2 regularization. There is an optimum model size for a
given amount of data; L2 lowers the variance and lets larger models win; too much L2 hurts everywhere.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from common.descriptors import GaussianBasis
from common.lj import LJDataset, lj_energy
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.settings import fail, setup
from common.sweeps import mse_of, predictions, train_many

# %% Settings: edit these, or override them on the command line (--n-seeds 3 --widths 2,8,32)
N_TRAIN = 20  # training points (the fixed, small amount of data)
R_MIN = 0.95  # the data start at this distance (sigma) ...
R_MAX = 2.5  # ... and end at this one (sigma)
NOISE = 0.02  # std of noise on the training energies (epsilon)
N_VAL = 500  # unseen points (exact energies) that measure each model
N_BASIS = 40  # Gaussian basis functions ...
BASIS_MIN = 0.9  # the Gaussians' centres spread from this distance (sigma) ...
BASIS_MAX = 3.0  # ... to this one (sigma)
DEPTH = 2  # hidden layers
WIDTHS = [1, 2, 4, 8, 16, 32, 64, 128]  # model sizes: neurons per hidden layer
L2_STRENGTHS = [0.0, 1e-4, 1e-3, 1e-2]  # lambda; 0 = no regularization
N_SEEDS = 6  # repeats: training sets and initial weights per size and L2 strength, >= 2
EPOCHS = 1000  # full-batch Adam steps per model
LEARNING_RATE = 5e-3
SEED = 0
setup(globals(), "lj_5_bias_variance")  # command-line overrides and checks

# %% 1 Data
# Seed k trains on its own N_TRAIN random points. The energies carry a little noise (NOISE = 0.02 epsilon,
# 2 % of the well depth), as any reference data do: that is what a too-flexible model fits. The range
# starts at 0.95 sigma (E = 2 epsilon) so that the steep wall does not swamp every other error.
if N_SEEDS < 2:
    fail(f"N_SEEDS must be an integer >= 2 (a spread between seeds needs two), got {N_SEEDS}")
WIDTHS, L2_STRENGTHS = sorted(set(WIDTHS)), sorted(set(L2_STRENGTHS))
train_sets = [
    LJDataset(N_TRAIN, R_MIN, R_MAX, noise=NOISE, seed=SEED + k, spacing="random") for k in range(N_SEEDS)
]  # seed k: its own random points
val_set = LJDataset(N_VAL, R_MIN, R_MAX, seed=SEED + 1000, spacing="random")  # exact energies
print(
    f"{N_SEEDS} training sets of {N_TRAIN} random points in [{R_MIN}, {R_MAX}] sigma, noise {NOISE} "
    f"epsilon; {N_VAL} validation points"
)

# %% 2 Model
# DEPTH hidden GELU layers of each width in WIDTHS: look at how fast the parameter count grows.
descriptor = GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX)
n_params = {w: count_parameters(LJModel(descriptor, w, DEPTH)) for w in WIDTHS}
print(
    f"{DEPTH} hidden GELU layers of width {', '.join(map(str, WIDTHS))}: "
    f"{', '.join(f'{n:,}' for n in n_params.values())} trainable parameters"
)


# %% 3 Cost function
# Slide 11: L2 regularization adds the squared parameters to the cost,
# :math:`C(\theta) = \mathrm{MSE}(\theta) + \frac{\lambda}{2} \sum_j \theta_j^2`,
# which pulls every weight towards zero unless the data need it (weight_decay = lambda in torch.optim).
def cost(model, r, energy, strength):
    squares = sum((p**2).sum() for p in model.parameters())
    return ((model(r) - energy) ** 2).mean() + 0.5 * strength * squares


torch.manual_seed(SEED)
untrained = LJModel(descriptor, WIDTHS[-1], DEPTH)
with torch.no_grad():
    costs = [float(cost(untrained, train_sets[0].r, train_sets[0].energy, s)) for s in L2_STRENGTHS]
print(
    f"cost of an untrained width-{WIDTHS[-1]} model with lambda = "
    + ", ".join(f"{s:g}: {c:.3f}" for s, c in zip(L2_STRENGTHS, costs))
)

# %% 4 Find the parameters
# Full batch Adam on this cost, as written out in lj_4. Each (width, L2, seed) is one training; for each
# width all (L2, seed) pairs are trained at once by common.sweeps.train_many (the same result as one by
# one, tested, only faster). Look at the table: mean and spread of the validation MSE over the seeds.
val_mse = np.zeros((len(L2_STRENGTHS), len(WIDTHS), N_SEEDS))
train_mse = np.zeros_like(val_mse)
r_plot = torch.linspace(R_MIN, R_MAX, 300).unsqueeze(1)
fits = {}  # predictions of the largest model, per L2 strength: (N_SEEDS, 300)
for j, width in enumerate(WIDTHS):
    models, l2, r, energy = [], [], [], []
    for strength in L2_STRENGTHS:
        for k in range(N_SEEDS):
            torch.manual_seed(SEED + k)
            models.append(LJModel(descriptor, width, DEPTH))
            l2.append(strength)
            r.append(train_sets[k].r)
            energy.append(train_sets[k].energy)
    train_mse[:, j] = train_many(models, r, energy, EPOCHS, LEARNING_RATE, l2=l2).reshape(-1, N_SEEDS)
    val_mse[:, j] = mse_of(models, val_set.r, val_set.energy).reshape(-1, N_SEEDS)
    if width == WIDTHS[-1]:
        fits = dict(zip(L2_STRENGTHS, predictions(models, r_plot).reshape(len(L2_STRENGTHS), N_SEEDS, -1)))
if not np.isfinite(val_mse).all():
    fail(f"training diverged: lower LEARNING_RATE (now {LEARNING_RATE:g}); nothing was saved")

mean, spread = val_mse.mean(axis=2), val_mse.std(axis=2)
print("validation MSE (epsilon^2), mean +- standard deviation over seeds")
print(f"{'width':>6} {'params':>7} | " + " | ".join(f"L2 {s:<8g}       " for s in L2_STRENGTHS))
for j, width in enumerate(WIDTHS):
    print(
        f"{width:6d} {n_params[width]:7,d} | "
        + " | ".join(f"{mean[i, j]:.4f} +- {spread[i, j]:.4f}" for i in range(len(L2_STRENGTHS)))
    )
best_width = {s: WIDTHS[int(np.argmin(mean[i]))] for i, s in enumerate(L2_STRENGTHS)}
for i, s in enumerate(L2_STRENGTHS):
    j = WIDTHS.index(best_width[s])
    print(
        f"L2 {s:g}: best width {best_width[s]} ({n_params[best_width[s]]:,} parameters), validation MSE "
        f"{mean[i, j]:.4f} +- {spread[i, j]:.4f} epsilon^2"
    )
best_l2 = L2_STRENGTHS[int(np.argmin(mean.min(axis=1)))]

# %% 5 Look at the result
# Top: validation MSE against model size, mean over seeds with the standard deviation as error bars,
# one curve per L2 strength; the best size of each curve is circled. Without L2 the error first falls
# (a model too small cannot follow the curve: bias), then rises and scatters (variance). With the right
# L2 the large models' error bars shrink and the optimum moves to larger models; too much L2 is worse
# everywhere. Bottom: the largest model's fits, one per seed, without L2 and with the best L2.
fig, axes = plt.subplot_mosaic(
    [["size", "size"], ["no_l2", "best_l2"]], figsize=(10, 8.5), layout="constrained"
)
axes = [axes["size"], axes["no_l2"], axes["best_l2"]]
ax = axes[0]
x = np.array([n_params[w] for w in WIDTHS])
for i, s in enumerate(L2_STRENGTHS):
    shift = 1.06 ** (i - (len(L2_STRENGTHS) - 1) / 2)  # spread the error bars a little sideways
    line = ax.errorbar(
        x * shift, mean[i], yerr=spread[i], marker="o", ms=4, capsize=3, label=f"L2 {s:g}" if s else "no L2"
    )
    j = int(np.argmin(mean[i]))
    ax.plot(x[j] * shift, mean[i, j], "o", ms=13, mfc="none", mec=line[0].get_color(), mew=2)
ax.set_ylim(0, 1.1 * float((mean + spread).max()))
ax.set(
    xscale="log",
    xlabel=f"trainable parameters (width {WIDTHS[0]} to {WIDTHS[-1]})",
    ylabel="validation MSE (epsilon$^2$)",
    title=f"{N_TRAIN} training points: the best model size",
)
ax.legend(title="circle: best size", fontsize=9)
for ax, s in zip(axes[1:], [0.0 if 0.0 in fits else L2_STRENGTHS[0], best_l2]):
    ax.plot(r_plot, lj_energy(r_plot), "k--", lw=2, label="Lennard-Jones")
    for k, curve in enumerate(fits[s]):
        ax.plot(r_plot, curve, lw=1, label="one model per seed" if k == 0 else None)
    ax.set(
        xlabel="r (sigma)",
        ylabel="E (epsilon)",
        ylim=(-1.5, 2.5),
        title=f"width {WIDTHS[-1]}, " + (f"L2 {s:g}" if s else "no L2") + f": {N_SEEDS} seeds",
    )
    ax.legend(fontsize=9)
save_figure(fig, "lj_5_bias_variance")
i0 = L2_STRENGTHS.index(best_l2)
print(
    f"done: best L2 {best_l2:g} with width {best_width[best_l2]}; validation MSE "
    f"{mean[i0].min():.4f} epsilon^2"
)
print(
    f"result: best_l2={best_l2:g} best_width={best_width[best_l2]} best_val_mse_eps2={mean[i0].min():.4f}"
    + (f" no_l2_best_width={best_width[0.0]}" if 0.0 in best_width else "")  # only when lambda = 0 ran
)
show()

# %% Exercises
# Worked answers: solutions/lj_5_bias_variance.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In the top panel, which width is best without L2, and which with L2 = 1e-3? How
#    much does L2 = 1e-3 shrink the error bar (the spread over the seeds) of the widest model?
# 2. (predict, then run) Set N_TRAIN = 80 (``--n-train 80``). Will the best width without L2 move to
#    larger or to smaller models? Will the widest model without L2 get better or worse, and its spread?
# 3. (write code) Train two copies of one network for 200 steps: one on the lesson's cost, MSE +
#    :math:`\frac{\lambda}{2} \sum_j \theta_j^2` (cell 3), the other on the plain MSE with
#    ``weight_decay = lambda``; do it for torch.optim.SGD, Adam and AdamW. For which optimizers are the two
#    the same method?
