"""lj_3_hyperparameters.py: slide "A model to play with" (slides 4, 5 and 13).

Change the settings below (or on the command line: --descriptor one_hot, --activation relu) and watch
what happens. Every run writes a new folder under runs/, named after its settings, so the runs can be
compared in TensorBoard (``tensorboard --logdir=runs``, then http://localhost:6006/). Two choices
change the fit most visibly: the descriptor (a one-hot code gives a staircase) and the activation
(ReLU gives a kinked force curve, GELU a smooth one, and MD needs smooth forces).
"""

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

from common.descriptors import make_descriptor
from common.lj import LJDataset, lj_energy, lj_force
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.runs import BEST, RUNS_DIR, log_hparams, loss_writer, new_run_dir, settings_name
from common.settings import settings_used, setup
from common.training import (
    evaluate,
    fit,
    make_optimizer,
    pick_device,
    predict,
    predict_force,
    stop_if_diverged,
)

# %% Settings: edit these, or override them on the command line (--learning-rate 0.01)
N_TRAIN = 60  # training points (validation and test sets: N_TRAIN // 3 each)
R_MIN = 0.95  # the data start at this distance (sigma) ...
R_MAX = 3.0  # ... and end at this one (sigma)
NOISE = 0.0  # std of noise on E (epsilon)
DESCRIPTOR = "gaussian"  # "gaussian" or "one_hot"
N_BASIS = 40  # Gaussian basis functions or one-hot bins
BASIS_MIN = 0.9  # the Gaussians' centres spread from this distance (sigma) ...
BASIS_MAX = 3.0  # ... to this one (sigma)
WIDTH = 40  # neurons per hidden layer
DEPTH = 4  # hidden layers
ACTIVATION = "gelu"  # gelu, relu, tanh, silu, softplus
OPTIMIZER = "adam"  # sgd, momentum, nesterov, adam, adamw
LEARNING_RATE = 1e-3
MOMENTUM = 0.9  # for momentum and nesterov
L2 = 0.0  # L2 regularisation strength lambda (torch.optim's weight_decay)
BATCH_SIZE = 16
EPOCHS = 400
PATIENCE = 100  # early stopping on the validation loss
SEED = 0
DEVICE = "cpu"  # "auto" picks cuda, then mps, then cpu; small models are fastest on the cpu
setup(globals(), "lj_3_hyperparameters")  # command-line overrides and checks

# %% 1 Data
# Training, validation and test points drawn at random in [R_MIN, R_MAX] (three different seeds).
n_other = max(1, N_TRAIN // 3)
train_set = LJDataset(N_TRAIN, R_MIN, R_MAX, noise=NOISE, seed=SEED, spacing="random")
val_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 1, spacing="random")
test_set = LJDataset(n_other, R_MIN, R_MAX, noise=NOISE, seed=SEED + 2, spacing="random")
train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
val_loader = DataLoader(val_set, batch_size=len(val_set))
test_loader = DataLoader(test_set, batch_size=len(test_set))
print(f"{len(train_set)} training, {len(val_set)} validation, {len(test_set)} test points")

# %% 2 Model
# Slides 4 and 5: the descriptor ("gaussian": smooth bumps :math:`\phi_k(r) = \exp(-(r - c_k)^2 / 2w^2)`;
# "one_hot": which of N_BASIS bins r falls in) and the network (DEPTH x WIDTH, with ACTIVATION) are
# the settings to play with.
device = pick_device(DEVICE)
torch.manual_seed(SEED)
descriptor = make_descriptor(DESCRIPTOR, N_BASIS, BASIS_MIN, BASIS_MAX)
model = LJModel(descriptor, WIDTH, DEPTH, ACTIVATION).to(device)
n_params = count_parameters(model)
print(
    f"{DESCRIPTOR} descriptor, {DEPTH} x {WIDTH} {ACTIVATION} network: {n_params:,} trainable "
    f"parameters, on {device}"
)

# %% 3 Cost function
loss_fn = torch.nn.MSELoss()  # epsilon^2

# %% 4 Find the parameters: logging to TensorBoard
# From here on the loop of lj_1 and lj_2 (zero_grad, backward, step for every mini-batch, early
# stopping on the validation loss) is one call: common.training.fit. It also logs both losses to
# TensorBoard after every epoch (as log10 MSE). At the end the run's settings and the MSEs of the
# restored best epoch go into TensorBoard's HPARAMS table, so that you can compare your runs there.
run_name = f"{ACTIVATION}_" + settings_name(lr=LEARNING_RATE, w=WIDTH, d=DEPTH) + f"_{DESCRIPTOR}_{OPTIMIZER}"
run_dir = new_run_dir(RUNS_DIR, run_name + "_lj3")  # the settings first: the names differ at a glance
writer = loss_writer(run_dir)
optimizer = make_optimizer(OPTIMIZER, model.parameters(), LEARNING_RATE, MOMENTUM, L2)
hist = fit(
    model,
    train_loader,
    optimizer,
    EPOCHS,
    val_loader=val_loader,
    patience=PATIENCE,
    loss_fn=loss_fn,
    device=device,
    writer=writer,
    log_every=max(1, EPOCHS // 5),
)
stop_if_diverged(min(hist.validation), f"lower LEARNING_RATE (now {LEARNING_RATE:g})")
mse = {
    name: evaluate(model, loader, loss_fn, device)
    for name, loader in (("train", train_loader), ("validation", val_loader), ("test", test_loader))
}  # of the restored weights: the best validation epoch
print(
    f"best validation epoch {hist.best_epoch + 1} of {hist.stopped_epoch + 1} (weights restored); "
    + ", ".join(f"{name} MSE {v:.2e} epsilon^2" for name, v in mse.items())
)

# %% 5 Look at the result
# Left the energy, right the force :math:`F(r) = -dE/dr` of the model (by automatic differentiation,
# as forces are computed in MD). With DESCRIPTOR = "one_hot" E(r) is a staircase and its force is zero
# inside each bin; with ACTIVATION = "relu" the force has kinks and jumps. The figure also goes to
# TensorBoard.
model = model.cpu()
r_plot = torch.linspace(R_MIN, R_MAX, 600).unsqueeze(1)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
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
writer.add_figure("fit", fig, global_step=hist.best_epoch + 1, close=False)
hparams = {name: globals()[name] for name in settings_used()}  # every setting above, as named there
metrics = {f"{BEST}{name}_MSE_eps2": v for name, v in mse.items()} | {f"{BEST}epoch": hist.best_epoch + 1}
log_hparams(writer, hparams, metrics, step=hist.best_epoch + 1)
writer.close()
print(f"TensorBoard run: {run_dir}")
print("view it with: tensorboard --logdir=runs   (then open http://localhost:6006/)")
print("result: " + " ".join(f"{name}_mse_eps2={v:.2e}" for name, v in mse.items()))
show()

# %% Exercises
# Worked answers: solutions/lj_3_hyperparameters.py (run it, or read it on the lesson's page).
#
# 1. (predict, then run) Set DESCRIPTOR = "one_hot" (``--descriptor one_hot``). Predict the shape of the
#    energy and of the force in lj_3_fit.png, and whether the test MSE goes up or down, by how many orders
#    of magnitude. Then run and compare.
# 2. (write code) Set ACTIVATION = "relu" (``--activation relu``): will the test MSE of the energy change
#    much? Then write a few lines that compute the model's force (``predict_force``) and its error on
#    2,001 points from 1 to 3 sigma, and the largest jump of that error between neighbouring points.
#    How large is it with ReLU, and with GELU?
# 3. (predict, then run) Set OPTIMIZER = "sgd" (plain mini-batch gradient descent, same LEARNING_RATE).
#    After 400 epochs, is the test MSE better or worse than Adam's, and by how much? Compare the two runs'
#    loss curves in TensorBoard.
# 4. (write code) Write a descriptor ``InversePowers``: an nn.Module with ``size = 2`` whose forward turns r
#    of shape (batch, 1) into :math:`(r^{-6}, r^{-12})`; use it in place of the Gaussians. Compare the test
#    MSE, and the MSE between 3 and 4 sigma, beyond the data. Which descriptor extrapolates, and why?
