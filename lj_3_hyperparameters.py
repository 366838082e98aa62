"""lj_3_hyperparameters.py: slide "A model to play with" (and slides 4-5: descriptor, activation).

Change the hyperparameters below (or on the command line, e.g. --descriptor one_hot, --activation relu)
and watch how the training goes. Every run writes a new folder under runs/ named after its settings, so
runs can be compared in TensorBoard:
    tensorboard --logdir=runs        then open http://localhost:6006/
There: SCALARS shows the training and validation loss on one chart, HPARAMS a table of each run's
settings with its final training/validation/test MSE, IMAGES the fit figure.

What to look for (figures/lj_3_fit.png, left: energy, right: force -dE/dr):
  * DESCRIPTOR = "one_hot": the network only knows which bin r is in, so E(r) is a staircase and its
    force is zero inside each bin; "gaussian" gives a smooth curve.
  * ACTIVATION = "relu": the energy is piecewise linear in the descriptor, the force curve has kinks
    and jumps; "gelu" (continuously differentiable) gives a smooth force. MD needs smooth forces.
"""

# %% Hyperparameters: edit these, or override on the command line (--learning-rate 0.01)
N_TRAIN = 60             # training points (validation and test sets: N_TRAIN // 3 each)
R_MIN, R_MAX = 0.95, 3.0  # sigma
NOISE = 0.0              # std of noise on E (epsilon)
DESCRIPTOR = "gaussian"  # "gaussian" or "one_hot"
N_BASIS = 40             # Gaussian basis functions or one-hot bins
BASIS_MIN, BASIS_MAX = 0.9, 3.0
WIDTH = 40               # neurons per hidden layer
DEPTH = 4                # hidden layers
ACTIVATION = "gelu"      # gelu, relu, tanh, silu, softplus
OPTIMIZER = "adam"       # sgd, momentum, nesterov, adam, adamw
LEARNING_RATE = 1e-3
MOMENTUM = 0.9           # for momentum and nesterov
WEIGHT_DECAY = 0.0       # L2 regularisation strength
BATCH_SIZE = 16
EPOCHS = 400
PATIENCE = 100           # early stopping on the validation loss
SEED = 0
DEVICE = "cpu"           # "auto" picks cuda, then mps, then cpu; small models are fastest on the cpu
RUNS_DIR = ""            # "" = the project's runs/ folder
QUICK = {"EPOCHS": 30, "N_TRAIN": 30}

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli

cli.apply_overrides(globals(), quick=QUICK)
cli.check_standard(globals())  # sizes, LEARNING_RATE, MOMENTUM, WEIGHT_DECAY, ACTIVATION, OPTIMIZER
cli.check(N_TRAIN >= 3, f"N_TRAIN must be >= 3, got {N_TRAIN}")
cli.check_choice("DESCRIPTOR", DESCRIPTOR, ["gaussian", "one_hot"])
cli.check_choice("DEVICE", DEVICE, ["auto", "cpu", "cuda", "mps"])

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter

from common.descriptors import make_descriptor
from common.lj import LJDataset, lj_energy, lj_force
from common.mlp import LJModel, count_parameters
from common.paths import RUNS_DIR as DEFAULT_RUNS
from common.plotting import save_figure, show
from common.runs import new_run_dir, settings_name
from common.training import (evaluate, fit, limit_threads, make_optimizer, pick_device, predict,
                             predict_force, set_seed)

limit_threads()
device = pick_device(DEVICE)

# %% 1 Data
n_other = max(1, N_TRAIN // 3)
train_set = LJDataset(N_TRAIN, R_MIN, R_MAX, noise=NOISE, seed=SEED, spacing="random")
val_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 1, spacing="random")
test_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 2, spacing="random")
train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
val_loader = DataLoader(val_set, batch_size=len(val_set))
test_loader = DataLoader(test_set, batch_size=len(test_set))
print(f"{len(train_set)} training, {len(val_set)} validation, {len(test_set)} test points")

# %% 2 Model
set_seed(SEED)
model = LJModel(make_descriptor(DESCRIPTOR, N_BASIS, BASIS_MIN, BASIS_MAX), WIDTH, DEPTH,
                ACTIVATION).to(device)
n_params = count_parameters(model)
print(f"{DESCRIPTOR} descriptor, {DEPTH} x {WIDTH} {ACTIVATION} network: {n_params:,} trainable "
      f"parameters, on {device}")

# %% 3 Cost function
loss_fn = torch.nn.MSELoss()  # epsilon^2

# %% 4 Find the parameters, logging to TensorBoard
hparams = dict(descriptor=DESCRIPTOR, n_basis=N_BASIS, width=WIDTH, depth=DEPTH,
               activation=ACTIVATION, optimizer=OPTIMIZER, lr=LEARNING_RATE, momentum=MOMENTUM,
               weight_decay=WEIGHT_DECAY, batch_size=BATCH_SIZE, n_train=N_TRAIN, noise=NOISE,
               seed=SEED)
run_dir = new_run_dir(Path(RUNS_DIR) if RUNS_DIR else DEFAULT_RUNS, "lj3_" + settings_name(
    desc=DESCRIPTOR, act=ACTIVATION, opt=OPTIMIZER, lr=LEARNING_RATE, w=WIDTH, d=DEPTH,
    l2=WEIGHT_DECAY, n=N_TRAIN))
writer = SummaryWriter(str(run_dir))
optimizer = make_optimizer(OPTIMIZER, model.parameters(), LEARNING_RATE, MOMENTUM, WEIGHT_DECAY)
hist = fit(model, train_loader, optimizer, EPOCHS, val_loader=val_loader, patience=PATIENCE,
           loss_fn=loss_fn, device=device, writer=writer, log_every=max(1, EPOCHS // 5))
metrics = {name: evaluate(model, loader, loss_fn, device) for name, loader in
           (("train_mse", train_loader), ("validation_mse", val_loader), ("test_mse", test_loader))}
print("final (best validation epoch {}): ".format(hist.best_epoch + 1) +
      ", ".join(f"{k.replace('_', ' ')} {v:.2e} epsilon^2" for k, v in metrics.items()))

# %% 5 Look at the result
model = model.cpu()
r_plot = torch.linspace(R_MIN, R_MAX, 600).unsqueeze(1)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(r_plot, lj_energy(r_plot), "k--", label="Lennard-Jones")
ax1.plot(r_plot, predict(model, r_plot), label="model")
ax1.plot(train_set.r, train_set.energy, "o", ms=3, label="training points")
ax1.set(xlabel="r (sigma)", ylabel="E (epsilon)", ylim=(-1.5, 2.0), title="energy")
ax1.legend()
ax2.plot(r_plot, lj_force(r_plot), "k--", label="Lennard-Jones")
ax2.plot(r_plot, predict_force(model, r_plot), label="model, -dE/dr by autograd")
ax2.set(xlabel="r (sigma)", ylabel="F (epsilon/sigma)", ylim=(-4, 8), title="force -dE/dr")
ax2.legend()
fig.suptitle(f"{DESCRIPTOR} descriptor, {ACTIVATION} activation")
save_figure(fig, "lj_3_fit")
writer.add_figure("fit", fig, global_step=hist.stopped_epoch)
writer.add_hparams({k: v for k, v in hparams.items()}, {f"hparam/{k}": v for k, v in metrics.items()},
                   run_name=".")
writer.close()
print(f"TensorBoard run: {run_dir}")
print("view it with: tensorboard --logdir=runs   (then open http://localhost:6006/)")
show()
