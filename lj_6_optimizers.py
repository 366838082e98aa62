"""lj_6_optimizers.py: slides "Find: gradient descent", "Momentum" and "Use stochasticity to get out
of local minima" (slide 12; after Mehta et al., "A high-bias, low-variance introduction to Machine
Learning for physicists", Phys. Rep. 810, 1-124 (2019), section IV).

Every optimizer moves the parameters by a step v_t:  theta_{t+1} = theta_t + v_t.
  gradient descent  v_t = -lr grad C(theta_t), the gradient over all training points (full batch)
  SGD               the same on a random mini-batch: a cheaper, noisy estimate of the gradient
  momentum          v_t = beta v_{t-1} - lr grad C(theta_t): speed builds up where the slope keeps its sign
  Nesterov          momentum, with the gradient taken at the look-ahead point theta_t + beta v_{t-1}
  Adam              momentum plus a step size per parameter from a running average of grad^2
They race on the Lennard-Jones fit, and on a 2-D cost whose paths can be drawn.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import DataLoader

from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.settings import fail, setup
from common.training import evaluate, make_optimizer, train_epoch

# %% Settings: edit these, or override them on the command line (--learning-rate 0.05)
N_POINTS = 40  # training points, evenly spaced
R_MIN, R_MAX = 0.9, 2.0  # sigma
N_BASIS = 40  # Gaussian basis functions ...
BASIS_MIN, BASIS_MAX = 0.9, 3.0  # ... with centres over this range (sigma)
WIDTH = 20  # neurons per hidden layer
DEPTH = 2  # hidden layers
STEPS = 1500  # optimizer steps for each method
LEARNING_RATE = 0.03  # gradient descent, SGD, momentum, Nesterov
ADAM_LEARNING_RATE = 0.01  # Adam
MOMENTUM = 0.9  # beta, for momentum and Nesterov
BATCH_SIZE = 8  # SGD's mini-batch (the others use all N_POINTS)
SEED = 0  # the same initial weights for every method
SURFACE_START = (1.5, 5.0)  # the 2-D surface: where the paths start (x, y) ...
SURFACE_STEPS = 400  # ... how many steps they take ...
SURFACE_LEARNING_RATE = 0.1  # ... and how long the steps are, for every method
SURFACE_NOISE = 3.0  # size of the random kick added to each gradient ("noisy" path)
NOISY_RUNS = 20  # noisy gradient descent repeated with this many seeds
setup(globals(), "lj_6_optimizers")  # command-line overrides and checks

# %% 1 Data
# The Lennard-Jones points, evenly spaced. Gradient descent uses all of them in every step; SGD a
# random mini-batch of BATCH_SIZE.
if BATCH_SIZE > N_POINTS:
    fail(f"BATCH_SIZE must be <= N_POINTS ({N_POINTS}), got {BATCH_SIZE}")
train_set = LJDataset(N_POINTS, R_MIN, R_MAX)
all_points = [(train_set.r, train_set.energy)]  # one batch holding every point
print(f"{N_POINTS} training points in [{R_MIN}, {R_MAX}] sigma; SGD draws mini-batches of {BATCH_SIZE}")

# %% 2 Model
# One small network; every method starts from the same initial weights.
# The methods compared: label, optimizer (common.training.make_optimizer), learning rate, batch size
METHODS = [
    ("gradient descent", "sgd", LEARNING_RATE, N_POINTS),
    (f"SGD (batches of {BATCH_SIZE})", "sgd", LEARNING_RATE, BATCH_SIZE),
    ("momentum", "momentum", LEARNING_RATE, N_POINTS),
    ("Nesterov", "nesterov", LEARNING_RATE, N_POINTS),
    ("Adam", "adam", ADAM_LEARNING_RATE, N_POINTS),
]

descriptor = GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX)
torch.manual_seed(SEED)
start_weights = LJModel(descriptor, WIDTH, DEPTH).state_dict()  # every method starts from these
print(
    f"{DEPTH} x {WIDTH} GELU network: {count_parameters(LJModel(descriptor, WIDTH, DEPTH)):,} "
    "trainable parameters"
)

# %% 3 Cost function
# For the network: the MSE (epsilon^2), a cost in 561 dimensions that cannot be drawn. So we also use
# a cost of only two parameters theta = (x, y), with the two features that matter for training:
# a shallow valley (steep across, curvature STEEP; shallow along, curvature SHALLOW), so the step must
# be small for the steep direction and plain gradient descent crawls along the shallow one; and a dip
# in the valley at y ~ DIP_CENTRE: a local minimum on the way to the global one at (0, 0).
#     C(x, y) = STEEP x^2 / 2 + SHALLOW y^2 / 2 - DIP_DEPTH exp(-(y - DIP_CENTRE)^2 / (2 DIP_WIDTH^2))
loss_fn = torch.nn.MSELoss()
STEEP, SHALLOW, DIP_DEPTH, DIP_CENTRE, DIP_WIDTH = 2.0, 0.1, 0.25, 2.5, 0.2


def surface(x, y):
    """C(x, y) for NumPy arrays (contour plots) or torch tensors (autograd)."""
    exp = torch.exp if isinstance(y, torch.Tensor) else np.exp
    return (
        0.5 * STEEP * x**2
        + 0.5 * SHALLOW * y**2
        - DIP_DEPTH * exp(-((y - DIP_CENTRE) ** 2) / (2 * DIP_WIDTH**2))
    )


# the minima and the saddle between them lie on the valley floor (x = 0): find them on a fine grid
floor_y = np.linspace(-2.0, 8.0, 200001)
floor = surface(0.0, floor_y)
turning = np.flatnonzero(np.diff(np.sign(np.diff(floor)))) + 1  # minima and maxima along y
local_min = (0.0, float(floor_y[turning[-1]]))  # the dip
saddle_y = float(floor_y[turning[-2]])  # the barrier between the dip and the global minimum
print(
    f"2-D surface: global minimum (0, 0), cost 0; local minimum (0, {local_min[1]:.2f}), cost "
    f"{surface(*local_min):.3f}; saddle between them at y = {saddle_y:.2f}"
)


# %% 4 Find the parameters
# (a) The Lennard-Jones fit: each method takes STEPS steps, one step per mini-batch (train_epoch on a
# single batch is lj_1's zero_grad / backward / step); after each step the MSE over all points.
lj_losses = {}
for label, name, lr, batch_size in METHODS:
    model = LJModel(descriptor, WIDTH, DEPTH)
    model.load_state_dict(start_weights)
    optimizer = make_optimizer(name, model.parameters(), lr, momentum=MOMENTUM)
    loader = DataLoader(
        train_set, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(SEED)
    )
    batches, losses = iter(loader), []
    for step in range(STEPS):
        batch = next(batches, None)
        if batch is None:  # epoch over: reshuffle
            batches = iter(loader)
            batch = next(batches)
        train_epoch(model, [batch], optimizer, loss_fn)  # a one-batch epoch = one step theta' = theta + v
        losses.append(evaluate(model, all_points, loss_fn))
    if not all(map(math.isfinite, losses)):
        fail(
            f"{label} diverged (MSE became inf/nan): lower its learning rate (now {lr:g}); nothing was saved"
        )
    lj_losses[label] = np.array(losses)
    print(
        f"{label:22s} lr {lr:g}: training MSE {losses[STEPS // 10 - 1]:.2e} after {STEPS // 10} steps, "
        f"{losses[-1]:.2e} epsilon^2 after {STEPS}"
    )


# (b) The 2-D surface: the same torch.optim optimizers move theta = (x, y). Mini-batches make the
# gradient noisy; here the noise is a random kick added to every gradient, decaying to zero over the
# run (like a learning-rate schedule), so that a noisy run settles at the end.
def descend(name, noise=0.0, seed=0):
    """The path (SURFACE_STEPS + 1, 2) of one optimizer from SURFACE_START."""
    generator = torch.Generator().manual_seed(seed)
    theta = torch.tensor(SURFACE_START, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer(name, [theta], SURFACE_LEARNING_RATE, momentum=MOMENTUM)
    path = [theta.detach().clone()]
    for step in range(SURFACE_STEPS):
        optimizer.zero_grad()
        surface(theta[0], theta[1]).backward()
        if noise > 0:
            theta.grad += (
                noise * (1 - step / SURFACE_STEPS) * torch.randn(2, dtype=torch.float64, generator=generator)
            )
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path).numpy()


def in_global_basin(point):
    return point[1] < saddle_y


paths = {}
for label, name, lr, batch_size in METHODS:
    noisy = batch_size < N_POINTS
    paths["noisy gradient descent" if noisy else label] = descend(name, SURFACE_NOISE if noisy else 0.0, SEED)
for label, path in paths.items():
    end = path[-1]
    where = "global minimum" if in_global_basin(end) else "LOCAL minimum"
    valley = np.flatnonzero(np.abs(path[:, 1]) < 0.5)
    reached = f", |y| < 0.5 first at step {valley[0]}" if len(valley) else ""
    print(
        f"surface, {label:22s}: ends at ({end[0]:.2f}, {end[1]:.2f}), the {where} "
        f"(cost {surface(*end):.3f}){reached}"
    )
escaped = sum(in_global_basin(descend("sgd", SURFACE_NOISE, seed)[-1]) for seed in range(NOISY_RUNS))
print(
    f"noisy gradient descent ends in the global minimum in {escaped} of {NOISY_RUNS} runs (seeds "
    f"0-{NOISY_RUNS - 1}); plain gradient descent in none"
)

# %% 5 Look at the result
# First figure: the training MSE against the step (log scale). Gradient descent sits for hundreds of
# steps on a plateau (a shallow direction of the cost); SGD follows it with a little noise, at a
# fraction of the cost per step; momentum and Nesterov leave the plateau far sooner; Adam, which also
# rescales each parameter's step, is fastest. Second figure: the paths on the 2-D cost. Plain gradient
# descent crawls down the valley and stops in the local minimum; momentum (and Nesterov) gain speed
# along the shallow valley, roll through the dip and settle in the global minimum; the noisy gradient
# shakes gradient descent out of the local minimum. Right: the cost above the global minimum per step.
fig, ax = plt.subplots(figsize=(7, 4.5))
for label, losses in lj_losses.items():
    ax.plot(np.arange(1, STEPS + 1), losses, label=label, lw=1.3)
ax.set(
    yscale="log",
    xlabel="optimizer step",
    ylabel="training MSE (epsilon$^2$)",
    title=f"Lennard-Jones fit, {N_POINTS} points: loss against step",
)
ax.legend()
save_figure(fig, "lj_6_loss_vs_step")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.1, 1]})
x_max = max(2.0, abs(SURFACE_START[0]) * 1.2)
y_lo, y_hi = -2.0, max(6.0, SURFACE_START[1] + 0.5)
xx, yy = np.meshgrid(np.linspace(-x_max, x_max, 200), np.linspace(y_lo, y_hi, 300))
ax1.contourf(xx, yy, surface(xx, yy), levels=40, cmap="Greys_r", alpha=0.6)
ax1.contour(xx, yy, surface(xx, yy), levels=20, colors="grey", linewidths=0.4)
for label, path in paths.items():
    ax1.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.9, label=label)
    ax2.plot(np.maximum(surface(path[:, 0], path[:, 1]), 1e-8), lw=1.2, label=label)
ax1.plot(*SURFACE_START, "ko", ms=7, label="start")
ax1.plot(*(0.0, 0.0), "g*", ms=14, label="global minimum")
ax1.plot(*local_min, "rX", ms=10, label="local minimum")
ax1.set(
    xlabel="x (steep direction)",
    ylabel="y (shallow direction)",
    xlim=(-x_max, x_max),
    ylim=(y_lo, y_hi),
    title=f"paths, {SURFACE_STEPS} steps of lr {SURFACE_LEARNING_RATE:g}",
)
ax1.legend(fontsize=8, loc="lower right")
ax2.axhline(surface(*local_min), color="r", ls=":", label="local minimum")
ax2.set(
    yscale="log",
    ylim=(1e-8, None),
    xlabel="step",
    ylabel="cost above the global minimum",
    title="the same runs: cost against step",
)
ax2.legend(fontsize=8)
save_figure(fig, "lj_6_surface_paths")
best = min(lj_losses, key=lambda k: lj_losses[k][-1])
print(f"done: lowest training MSE after {STEPS} steps: {best}, {lj_losses[best][-1]:.2e} epsilon^2")
print(
    "result: "
    + " ".join(
        f"{k.split(' (')[0].replace(' ', '_').lower()}_mse_eps2={v[-1]:.2e}" for k, v in lj_losses.items()
    )
    + f" noisy_escape_fraction={escaped / NOISY_RUNS:.2f}"
)
show()
