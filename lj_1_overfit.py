"""lj_1_overfit.py: slide "Overfitting" (and slides 1-7: Data, Model, Cost function, Find).

A neural network with 6,601 trainable parameters is fitted to only 10 points of the Lennard-Jones
potential E(r) = 4 (r^-12 - r^-6) (reduced units: r in sigma, E in epsilon). The fit is repeated
with several random seeds (different initial weights).

What to look for (figures/lj_1_overfit.png):
  * every fit passes through every training point: the training MSE is tiny;
  * between the training points (interpolation region, shaded green) the fits wiggle and disagree;
  * beyond the training range (extrapolation region, shaded red) they are terrible and disagree.
  "You measure a model by testing on data it has never seen": the printed MSE on unseen points.
figures/lj_1_descriptor.png shows the Gaussian basis functions and one encoded distance (slide 4).
"""

# %% Hyperparameters (edit these, or override on the command line: --n-seeds 3 --epochs 500)
N_POINTS = 10           # training points
R_MIN, R_MAX = 0.9, 2.0  # range of the training points (sigma)
R_EXTRAPOLATE = 3.0     # unseen points up to here (sigma)
NOISE = 0.0             # std of noise added to the energies (epsilon); our data is exact
N_BASIS = 40            # Gaussian basis functions ...
BASIS_MIN, BASIS_MAX = 0.9, 3.0  # ... with centres spread over this range (sigma)
WIDTH = 40              # neurons per hidden layer
DEPTH = 4               # hidden layers
ACTIVATION = "gelu"
LEARNING_RATE = 2e-3      # Adam; 5e-3 leaves some seeds short of memorising (training MSE ~1e-2)
EPOCHS = 600
BATCH_SIZE = 5          # 10 points -> 2 mini-batches, 2 steps of gradient descent per epoch
N_SEEDS = 5             # how many times the fit is repeated with different initial weights
QUICK = {"EPOCHS": 50, "N_SEEDS": 2}  # --quick: settings for tests

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find common/ from any folder
from common import cli

cli.apply_overrides(globals(), quick=QUICK)
cli.check_standard(globals())  # positive sizes, LEARNING_RATE > 0, known ACTIVATION, ...
cli.check(R_MAX < R_EXTRAPOLATE, "need R_MAX < R_EXTRAPOLATE")

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

from common.descriptors import GaussianBasis, slide_example_basis
from common.lj import LJDataset, lj_energy
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.training import evaluate, fit, limit_threads, make_optimizer, predict, set_seed

limit_threads()

# %% 1 Data
train_set = LJDataset(N_POINTS, R_MIN, R_MAX, noise=NOISE)
r_batch, e_batch = next(iter(DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)))
print(f"{len(train_set)} training points in [{R_MIN}, {R_MAX}] sigma; one batch: "
      f"r {tuple(r_batch.shape)}, E {tuple(e_batch.shape)}")
# unseen points: between the training points, and beyond them
interp_set = LJDataset(200, R_MIN, R_MAX)
extrap_set = LJDataset(200, R_MAX, R_EXTRAPOLATE)

# %% 2 Model
descriptor = GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX)
n_params = count_parameters(LJModel(descriptor, WIDTH, DEPTH, ACTIVATION))
print(f"{n_params:,} trainable parameters, {N_POINTS} data points")

# Slide 4: the descriptor turns one distance into a vector (phi_1(r), phi_2(r), ...)
fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 3.5))
r_plot = torch.linspace(0.8, 3.2, 500).unsqueeze(1)
ax1.plot(r_plot, descriptor(r_plot), lw=0.8)
ax1.set(xlabel="r (sigma)", ylabel="phi_k(r)", title=f"the {N_BASIS} Gaussian basis functions")
x = torch.tensor([[1.5]])
ax2.bar(range(1, N_BASIS + 1), descriptor(x)[0])
ax2.set(xlabel="k", ylabel="phi_k(1.5)", title="descriptor of r = 1.5 sigma: 40 numbers")
slide = slide_example_basis()  # the slide's five Gaussians: x = 3.1 -> (0.5, 0.3, 0.01, 0, 0)
x_plot = torch.linspace(1.5, 7.0, 400).unsqueeze(1)
ax3.plot(x_plot, slide(x_plot))
ax3.axvline(3.1, color="k", ls=":")
for k, value in enumerate(slide(torch.tensor([[3.1]]))[0].tolist()):
    ax3.plot(3.1, value, "ko", ms=4)
    ax3.annotate(f"phi_{k + 1} = {value:.2f}", (3.1, value), xytext=(5, 2 + 9 * k),
                 textcoords="offset points", fontsize=8)
ax3.set(xlabel="x", ylabel="phi_k(x)", title="slide 4: x = 3.1 -> (0.5, 0.3, 0.01, 0, 0)")
save_figure(fig, "lj_1_descriptor")

# %% 3 Cost function
loss_fn = torch.nn.MSELoss()  # mean squared error, epsilon^2

# %% 4 Find the parameters (one fit per seed)
models = []
for seed in range(N_SEEDS):
    set_seed(seed)
    model = LJModel(descriptor, WIDTH, DEPTH, ACTIVATION)
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
    fit(model, loader, make_optimizer("adam", model.parameters(), LEARNING_RATE), EPOCHS,
        loss_fn=loss_fn)
    mse = [evaluate(model, DataLoader(d, batch_size=len(d)), loss_fn)
           for d in (train_set, interp_set, extrap_set)]
    print(f"seed {seed}: MSE (epsilon^2) training {mse[0]:.2e} | unseen interpolation "
          f"{mse[1]:.2e} | unseen extrapolation {mse[2]:.2e}")
    models.append(model)

# %% 5 Look at the result
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.axvspan(R_MIN, R_MAX, color="tab:green", alpha=0.12, label="interpolation region")
ax.axvspan(R_MAX, R_EXTRAPOLATE, color="tab:red", alpha=0.12, label="extrapolation region")
r_plot = torch.linspace(R_MIN - 0.05, R_EXTRAPOLATE, 400).unsqueeze(1)
ax.plot(r_plot, lj_energy(r_plot), "k--", lw=2, label="Lennard-Jones (target)")
for seed, model in enumerate(models):
    ax.plot(r_plot, predict(model, r_plot), lw=1.2, label=f"model, seed {seed}")
ax.plot(train_set.r, train_set.energy, "ko", ms=6, label="training points")
ax.set(xlabel="r (sigma)", ylabel="E (epsilon)", ylim=(-1.5, 2.5),
       title=f"{n_params:,} parameters, {N_POINTS} points: overfitting")
ax.legend(fontsize=8, loc="lower right")
save_figure(fig, "lj_1_overfit")
print(f"done: {len(models)} fits of {n_params:,} parameters")
show()
