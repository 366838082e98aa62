"""lj_1_overfit.py: slides "PyTorch example" to "Overfitting" (slides 1-8).

A neural network with 6,601 trainable parameters is fitted to only 10 points of the Lennard-Jones
potential :math:`E(r) = 4 (r^{-12} - r^{-6})` (reduced units: r in sigma, E in epsilon), several times with
different initial weights. Every fit passes through every training point, yet the fits disagree
between the points and fail beyond them: you measure a model on data it has never seen.
"""

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

from common.descriptors import GaussianBasis, slide_example_basis
from common.lj import LJDataset, lj_energy
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.settings import setup
from common.training import evaluate, predict, stop_if_diverged

# %% Settings: edit these, or override them on the command line (--n-seeds 3 --epochs 500)
N_TRAIN = 10  # training points
R_MIN = 0.9  # the data start at this distance (sigma) ...
R_MAX = 2.0  # ... and end at this one (sigma)
R_EXTRAPOLATE = 3.0  # unseen points up to here (sigma)
NOISE = 0.0  # std of noise added to the energies (epsilon); our data is exact
N_BASIS = 40  # Gaussian basis functions ...
BASIS_MIN = 0.9  # the Gaussians' centres spread from this distance (sigma) ...
BASIS_MAX = 3.0  # ... to this one (sigma)
WIDTH = 40  # neurons per hidden layer
DEPTH = 4  # hidden layers
ACTIVATION = "gelu"  # gelu, relu, tanh, silu or softplus
LEARNING_RATE = 2e-3  # Adam's step size; 5e-3 leaves some seeds short of memorising
EPOCHS = 600  # passes over the training points
BATCH_SIZE = 5  # 10 points -> 2 mini-batches: 2 steps of gradient descent per epoch
N_SEEDS = 5  # how many times the fit is repeated with different initial weights
setup(globals(), "lj_1_overfit")  # command-line overrides and checks of the values above

# %% 1 Data
# Slides 1 and 3. In computational chemistry the data are few and almost noise-free: here 10 exact
# points of the Lennard-Jones potential :math:`E(r) = 4\varepsilon[(\sigma/r)^{12} - (\sigma/r)^6]`
# (with sigma = epsilon = 1). ``LJDataset`` is a PyTorch Dataset (``__init__``, ``__len__``, ``__getitem__``,
# see common/lj.py) and a DataLoader pulls random mini-batches from it: look at the printed shapes.
# The unseen points, between the training points and beyond them, are only used to measure the fits.
train_set = LJDataset(N_TRAIN, R_MIN, R_MAX, noise=NOISE)
r_batch, e_batch = next(iter(DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)))
print(
    f"{len(train_set)} training points in [{R_MIN}, {R_MAX}] sigma; one mini-batch: "
    f"r {tuple(r_batch.shape)}, E {tuple(e_batch.shape)}"
)
interp_set = LJDataset(200, R_MIN, R_MAX)  # unseen points between the training points
extrap_set = LJDataset(200, R_MAX, R_EXTRAPOLATE)  # unseen points beyond them

# %% 2 Model
# Slides 4 and 5. The descriptor turns a distance r into a vector :math:`(\phi_1(r), \phi_2(r), \ldots)` of
# Gaussians :math:`\phi_k(r) = \exp(-(r - c_k)^2 / 2w^2)` (centres :math:`c_k`, width :math:`w`); a network of
# DEPTH hidden layers of WIDTH neurons with the GELU activation turns that vector into an energy
# (common/mlp.py). Look at the parameter count: 6,601 numbers for 10 points. The figure shows the descriptor:
# the basis functions, the 40 numbers that encode r = 1.5 sigma, and the slide's own example
# :math:`x = 3.1 \to (0.5, 0.3, 0.01, 0, 0)`.
descriptor = GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX)
n_params = count_parameters(LJModel(descriptor, WIDTH, DEPTH, ACTIVATION))
print(f"{n_params:,} trainable parameters, {N_TRAIN} data points")

fig, axes = plt.subplot_mosaic(
    [["basis", "vector"], ["slide", "slide"]], figsize=(10, 7), layout="constrained"
)
ax1, ax2, ax3 = axes["basis"], axes["vector"], axes["slide"]
r_plot = torch.linspace(0.8, 3.2, 500).unsqueeze(1)
ax1.plot(r_plot, descriptor(r_plot), lw=0.8)
ax1.set(xlabel=r"$r$ ($\sigma$)", ylabel=r"$\phi_k(r)$", title=f"the {N_BASIS} Gaussian basis functions")
ax2.bar(range(1, N_BASIS + 1), descriptor(torch.tensor([[1.5]]))[0])
ax2.set(xlabel="$k$", ylabel=r"$\phi_k(1.5)$", title=rf"descriptor of $r = 1.5\,\sigma$: {N_BASIS} numbers")
slide = slide_example_basis()  # the slide's five Gaussians
x_plot = torch.linspace(1.5, 7.0, 400).unsqueeze(1)
values = slide(torch.tensor([[3.1]]))[0].tolist()
for k, (curve, value) in enumerate(zip(slide(x_plot).T, values)):
    ax3.plot(x_plot, curve, label=rf"$\phi_{k + 1}(3.1) = {value:.2f}$")
ax3.axvline(3.1, color="k", ls=":")
ax3.plot([3.1] * len(values), values, "ko", ms=4)
ax3.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), title="value at $x = 3.1$")
ax3.set(xlabel="$x$", ylabel=r"$\phi_k(x)$", title=r"slide 4: $x = 3.1 \to (0.5, 0.3, 0.01, 0, 0)$")
save_figure(fig, "lj_1_descriptor")

# %% 3 Cost function
# Slide 6: the mean squared error between predicted and true energies (:math:`\varepsilon^2`),
# :math:`C(\theta) = \frac{1}{N} \sum_{i=1}^{N} (E_\theta(r_i) - E_i)^2`.
loss_fn = torch.nn.MSELoss()

# %% 4 Find the parameters
# Slide 7: :math:`\theta' = \theta - \eta \nabla_\theta C` (:math:`\eta`: the learning rate), batch after
# batch. For each mini-batch the four lines below clear the old gradient, compute the cost, let autograd
# compute the gradient of the cost with respect to all 6,601 parameters, and take one step (Adam's variant of
# gradient descent). One pass over all mini-batches is an epoch. The whole fit is repeated with N_SEEDS
# different initial weights; look at the printed MSEs: tiny on the training points, large on the unseen ones.
models, mses = [], []
for seed in range(N_SEEDS):
    torch.manual_seed(seed)  # initial weights and batch order
    model = LJModel(descriptor, WIDTH, DEPTH, ACTIVATION)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
    for epoch in range(EPOCHS):
        for r, energy in loader:
            optimizer.zero_grad()  # forget the gradient of the previous step
            loss = loss_fn(model(r), energy)  # the cost of this mini-batch
            loss.backward()  # its gradient with respect to every parameter
            optimizer.step()  # one step downhill
    mse = [
        evaluate(model, DataLoader(d, batch_size=len(d)), loss_fn)
        for d in (train_set, interp_set, extrap_set)
    ]
    stop_if_diverged(mse[0], f"seed {seed}: lower LEARNING_RATE (now {LEARNING_RATE:g})")
    print(
        f"seed {seed}: MSE (epsilon^2) training {mse[0]:.2e} | unseen, interpolation "
        f"{mse[1]:.2e} | unseen, extrapolation {mse[2]:.2e}"
    )
    models.append(model)
    mses.append(mse)

# %% 5 Look at the result
# Slide 8. Every fit goes through every training point, but between the points (green) the fits
# wiggle and disagree, and beyond them (red) they fly off: many parameters, few points = overfitting.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.axvspan(R_MIN, R_MAX, color="tab:green", alpha=0.12, label="interpolation region")
ax.axvspan(R_MAX, R_EXTRAPOLATE, color="tab:red", alpha=0.12, label="extrapolation region")
r_plot = torch.linspace(R_MIN - 0.05, R_EXTRAPOLATE, 400).unsqueeze(1)
ax.plot(r_plot, lj_energy(r_plot), "k--", lw=2, label="Lennard-Jones (target)")
for seed, model in enumerate(models):
    ax.plot(r_plot, predict(model, r_plot), lw=1.2, label=f"model, seed {seed}")
ax.plot(train_set.r, train_set.energy, "ko", ms=6, label="training points")
ax.set(
    xlabel="r (sigma)",
    ylabel="E (epsilon)",
    ylim=(-1.5, 2.5),
    title=f"{n_params:,} parameters, {N_TRAIN} points: overfitting",
)
ax.legend(fontsize=8, loc="lower right")
save_figure(fig, "lj_1_overfit")
train_mse, interp_mse, extrap_mse = (max(m[i] for m in mses) for i in range(3))
print(
    f"result: n_parameters={n_params} n_train={N_TRAIN} train_mse_max_eps2={train_mse:.2e} "
    f"interpolation_mse_max_eps2={interp_mse:.2e} extrapolation_mse_max_eps2={extrap_mse:.2e}"
)
show()

# %% Exercises
# Worked answers: solutions/lj_1_overfit.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) Read the printed MSEs of the five seeds. By how many orders of magnitude is the MSE
#    on the unseen points between the training points above the training MSE? Which region is worse for
#    every seed, interpolation or extrapolation?
# 2. (predict, then run) Set N_TRAIN = 20 (``--n-train 20``). Before you run: will the interpolation MSE
#    fall, and by roughly how much? And the extrapolation MSE? Then run and compare.
# 3. (predict, then run) Set NOISE = 0.1 (``--noise 0.1``: noise of 0.1 epsilon on the training energies).
#    Will the training MSE end near the noise's variance, :math:`0.01\,\varepsilon^2`, or far below it?
# 4. (write code) Slide 14: "try also using fake simple data". Write a Dataset ``MorseDataset`` (``__init__``,
#    ``__len__``, ``__getitem__``, as LJDataset in common/lj.py) for the Morse potential
#    :math:`E = D (1 - e^{-a (r - r_e)})^2 - D` with :math:`D = 1`, :math:`r_e = 2^{1/6}`, :math:`a = 5.35`,
#    and fit it in place of Lennard-Jones. Does the network overfit in the same way: training MSE,
#    interpolation, extrapolation?
