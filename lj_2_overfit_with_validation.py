"""lj_2_overfit_with_validation.py: slide "Validation and test sets" (slide 9, early stopping).

The data are split into a training set (60 %), a validation set (20 %) and a test set (20 %). Gradient
descent fits the training set; the validation loss, measured after every epoch, shows when the model
starts to fit the noise of the training points; training stops early and the weights of the best
validation epoch are restored. The test set is used once, on the final model.
"""

import copy

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, random_split

from common.descriptors import GaussianBasis
from common.lj import LJDataset, lj_energy
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.settings import fail, setup
from common.training import evaluate, predict, stop_if_diverged

# %% Settings: edit these, or override them on the command line (--patience 50)
N_POINTS = 60  # all points, split 60/20/20
R_MIN = 0.95  # the data start at this distance (sigma) ...
R_MAX = 3.0  # ... and end at this one (sigma)
NOISE = 0.05  # std of noise on E (epsilon): a little, so that overfitting shows
SPLIT_SEED = 0  # fixed: the same split every run
N_BASIS = 40  # Gaussian basis functions
BASIS_MIN = 0.9  # the Gaussians' centres spread from this distance (sigma) ...
BASIS_MAX = 3.0  # ... to this one (sigma)
WIDTH = 40  # neurons per hidden layer
DEPTH = 4  # hidden layers
ACTIVATION = "gelu"
LEARNING_RATE = 1e-3  # Adam's step size
BATCH_SIZE = 8
EPOCHS = 2000  # at most
PATIENCE = 150  # epochs without a better validation loss before stopping
SEED = 0  # initial weights and batch order
setup(globals(), "lj_2_overfit_with_validation")  # command-line overrides and checks

# %% 1 Data
# Slide 9: one data set, split at random (with a fixed seed) into training, validation and test
# sets. The noise (NOISE epsilon) gives the network something to overfit.
data = LJDataset(N_POINTS, R_MIN, R_MAX, noise=NOISE, seed=SPLIT_SEED, spacing="random")
n_train, n_val = round(0.6 * N_POINTS), round(0.2 * N_POINTS)
if min(n_train, n_val, N_POINTS - n_train - n_val) < 1:
    fail(f"N_POINTS = {N_POINTS} is too few to split 60/20/20: use at least 5")
train_set, val_set, test_set = random_split(
    data, [n_train, n_val, N_POINTS - n_train - n_val], generator=torch.Generator().manual_seed(SPLIT_SEED)
)
print(
    f"{len(train_set)} training, {len(val_set)} validation, {len(test_set)} test points "
    f"in [{R_MIN}, {R_MAX}] sigma, noise {NOISE} epsilon"
)
train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
val_loader = DataLoader(val_set, batch_size=len(val_set))
test_loader = DataLoader(test_set, batch_size=len(test_set))

# %% 2 Model
# The same network as in lj_1: Gaussian descriptor, GELU layers.
torch.manual_seed(SEED)
model = LJModel(GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX), WIDTH, DEPTH, ACTIVATION)
print(f"{count_parameters(model):,} trainable parameters")

# %% 3 Cost function
loss_fn = torch.nn.MSELoss()  # mean squared error, epsilon^2

# %% 4 Find the parameters: watching the validation loss
# Slides 7 and 9: the loop of lj_1, plus, after every epoch, the loss on the validation set (no
# gradient step). We keep a copy of the weights whenever the validation loss is the best so far, and
# stop when it has not improved for PATIENCE epochs ("early stopping"); then the best weights return.
optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
train_losses, val_losses = [], []
best_loss, best_epoch, best_weights = float("inf"), -1, None
for epoch in range(EPOCHS):
    model.train()
    total = 0.0
    for r, energy in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(r), energy)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(r)  # the epoch loss: the mean over all points
    train_losses.append(total / len(train_set))
    val_losses.append(evaluate(model, val_loader, loss_fn))
    if val_losses[-1] < best_loss:
        best_loss, best_epoch = val_losses[-1], epoch
        best_weights = copy.deepcopy(model.state_dict())
    if epoch - best_epoch >= PATIENCE:
        break
stop_if_diverged(best_loss, f"lower LEARNING_RATE (now {LEARNING_RATE:g})")
model.load_state_dict(best_weights)  # back to the best validation epoch
stopped_early = len(train_losses) < EPOCHS
how = "stopped early" if stopped_early else "ran all epochs"
print(
    f"{how} after epoch {len(train_losses)}; best validation MSE {best_loss:.2e} epsilon^2 at epoch "
    f"{best_epoch + 1} (weights restored); training MSE then {train_losses[best_epoch]:.2e}, at the "
    f"end {train_losses[-1]:.2e}"
)

# %% 5 Look at the result
# The loss curves (log scale): the training loss falls and then levels off; the validation loss
# reaches its minimum and then creeps up as the model starts to fit the noise. The dotted line marks
# the epoch whose weights were kept. The second figure shows the restored model with the three sets.
# The test MSE is computed once, at the very end, on the final model.
epochs = range(1, len(train_losses) + 1)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.semilogy(epochs, train_losses, label="training loss")
ax.semilogy(epochs, val_losses, label="validation loss")
ax.axvline(best_epoch + 1, color="k", ls=":", label=f"best epoch {best_epoch + 1} (kept)")
if stopped_early:
    ax.axvline(len(train_losses), color="tab:red", ls="--", label=f"early stop, epoch {len(train_losses)}")
ax.set(xlabel="epoch", ylabel="MSE (epsilon^2)", title="Early stopping on the validation loss")
ax.legend()
save_figure(fig, "lj_2_loss_curves")

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
r_plot = torch.linspace(R_MIN, R_MAX, 400).unsqueeze(1)
ax.plot(r_plot, lj_energy(r_plot), "k--", label="Lennard-Jones (target)")
ax.plot(r_plot, predict(model, r_plot), label="model (best validation epoch)")
for subset, marker, name in (
    (train_set, "o", "training"),
    (val_set, "s", "validation"),
    (test_set, "^", "test"),
):
    r, e = data[subset.indices]
    ax.plot(r, e, marker, ls="none", label=f"{name} points")
ax.set(xlabel="r (sigma)", ylabel="E (epsilon)", ylim=(-1.5, 2.0), title="Fit after early stopping")
ax.legend(fontsize=8)
save_figure(fig, "lj_2_fit")

test_mse = evaluate(model, test_loader, loss_fn)  # the test set, used once
print(f"test MSE {test_mse:.2e} epsilon^2 (RMSE {test_mse**0.5:.3f} epsilon)")
print(f"result: best_epoch={best_epoch + 1} validation_mse_eps2={best_loss:.2e} test_mse_eps2={test_mse:.2e}")
show()

# %% Exercises
# Worked answers: solutions/lj_2_overfit_with_validation.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In lj_2_loss_curves.png, at which epoch is the validation loss lowest, and how many
#    epochs later did training stop? Is the training MSE at the best epoch above or below the variance of
#    the noise, :math:`\mathrm{NOISE}^2 = 2.5 \cdot 10^{-3}\,\varepsilon^2`? What does that tell you?
# 2. (predict, then run) Set NOISE = 0 (``--noise 0``). Will training stop earlier or later than with
#    noise, and will the best validation MSE be lower or higher, by roughly how much? Then run and compare.
# 3. (write code) The test energies are noisy too. At the end of the lesson, compute the test MSE also
#    against the exact energies ``lj_energy(r)`` of the test points. How much of the printed test MSE is
#    the model's own error, and how much the noise of the test energies?
