"""lj_2_overfit_with_validation.py: slide "Validation and test sets" (early stopping).

The data are split into a training set (60 %), a validation set (20 %) and a test set (20 %):
  * the training set is what gradient descent fits;
  * the validation set measures overfitting while training (and tunes hyperparameters);
  * the test set is used once, on the final model, for an honest estimate of its accuracy.
Training stops early when the validation loss has not improved for PATIENCE epochs, and the weights
of the best validation epoch are restored.

What to look for (figures/lj_2_loss_curves.png): the training loss keeps falling while the validation
loss flattens and then rises: the model starts to fit the noise of the training points. The dotted
line marks the epoch whose weights were kept. figures/lj_2_fit.png: the restored model with the
three sets. The test MSE is printed once, at the very end.
"""

# %% Hyperparameters (edit these, or override on the command line: --patience 50)
N_POINTS = 60            # all points, split 60/20/20
R_MIN, R_MAX = 0.95, 3.0  # sigma
NOISE = 0.05             # std of noise on E (epsilon): a little, so that overfitting shows
SPLIT_SEED = 0           # fixed: the same split every run
N_BASIS = 40
BASIS_MIN, BASIS_MAX = 0.9, 3.0
WIDTH = 40
DEPTH = 4
ACTIVATION = "gelu"
LEARNING_RATE = 1e-3
BATCH_SIZE = 8
EPOCHS = 2000            # at most
PATIENCE = 150           # epochs without a better validation loss before stopping
SEED = 0
QUICK = {"EPOCHS": 60, "PATIENCE": 20}

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli

cli.apply_overrides(globals(), quick=QUICK)
cli.check_standard(globals())  # positive sizes, LEARNING_RATE > 0, known ACTIVATION, ...
cli.check(N_POINTS >= 5, f"N_POINTS must be >= 5 (to split 60/20/20), got {N_POINTS}")

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, random_split

from common.descriptors import GaussianBasis
from common.lj import LJDataset, lj_energy
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.training import evaluate, fit, limit_threads, make_optimizer, predict, set_seed

limit_threads()

# %% 1 Data: one data set, split into training, validation and test sets
data = LJDataset(N_POINTS, R_MIN, R_MAX, noise=NOISE, seed=SPLIT_SEED, spacing="random")
n_train, n_val = round(0.6 * N_POINTS), round(0.2 * N_POINTS)
train_set, val_set, test_set = random_split(
    data, [n_train, n_val, N_POINTS - n_train - n_val],
    generator=torch.Generator().manual_seed(SPLIT_SEED))
print(f"{len(train_set)} training, {len(val_set)} validation, {len(test_set)} test points "
      f"in [{R_MIN}, {R_MAX}] sigma, noise {NOISE} epsilon")
train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
val_loader = DataLoader(val_set, batch_size=len(val_set))
test_loader = DataLoader(test_set, batch_size=len(test_set))

# %% 2 Model
set_seed(SEED)
model = LJModel(GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX), WIDTH, DEPTH, ACTIVATION)
print(f"{count_parameters(model):,} trainable parameters")

# %% 3 Cost function
loss_fn = torch.nn.MSELoss()  # epsilon^2

# %% 4 Find the parameters, watching the validation loss
optimizer = make_optimizer("adam", model.parameters(), LEARNING_RATE)
hist = fit(model, train_loader, optimizer, EPOCHS, val_loader=val_loader, patience=PATIENCE,
           loss_fn=loss_fn)
how = "stopped early" if hist.early_stopped else "ran all epochs"
print(f"{how} after epoch {hist.stopped_epoch + 1}; best validation MSE "
      f"{hist.validation[hist.best_epoch]:.2e} epsilon^2 at epoch {hist.best_epoch + 1} "
      f"(weights restored); training MSE then {hist.train[hist.best_epoch]:.2e}, at the end "
      f"{hist.train[-1]:.2e}")

# %% 5 Look at the result
epochs = range(1, len(hist.train) + 1)
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.semilogy(epochs, hist.train, label="training loss")
ax.semilogy(epochs, hist.validation, label="validation loss")
ax.axvline(hist.best_epoch + 1, color="k", ls=":", label=f"best epoch {hist.best_epoch + 1} (kept)")
if hist.early_stopped:
    ax.axvline(hist.stopped_epoch + 1, color="tab:red", ls="--",
               label=f"early stop, epoch {hist.stopped_epoch + 1}")
ax.set(xlabel="epoch", ylabel="MSE (epsilon^2)", title="Early stopping on the validation loss")
ax.legend()
save_figure(fig, "lj_2_loss_curves")

fig, ax = plt.subplots(figsize=(7, 4.5))
r_plot = torch.linspace(R_MIN, R_MAX, 400).unsqueeze(1)
ax.plot(r_plot, lj_energy(r_plot), "k--", label="Lennard-Jones (target)")
ax.plot(r_plot, predict(model, r_plot), label="model (best validation epoch)")
for subset, marker, name in ((train_set, "o", "training"), (val_set, "s", "validation"),
                             (test_set, "^", "test")):
    r, e = data[subset.indices]
    ax.plot(r, e, marker, ls="none", label=f"{name} points")
ax.set(xlabel="r (sigma)", ylabel="E (epsilon)", ylim=(-1.5, 2.0), title="Fit after early stopping")
ax.legend(fontsize=8)
save_figure(fig, "lj_2_fit")

# the test set, used once, on the final model
test_mse = evaluate(model, test_loader, loss_fn)
print(f"test MSE {test_mse:.2e} epsilon^2 (RMSE {test_mse ** 0.5:.3f} epsilon)")
show()
