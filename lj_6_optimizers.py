"""lj_6_optimizers.py: slides "Find: gradient descent", "Momentum" and "Use stochasticity to get out of
local minima" (after Mehta et al., "A high-bias, low-variance introduction to Machine Learning for
physicists", Phys. Rep. 810, 1-124 (2019), section IV: gradient descent and its generalizations).

Every optimizer moves the parameters by a step v_t:  theta_{t+1} = theta_t + v_t.
  gradient descent  v_t = -lr grad C(theta_t), the gradient over all training points (full batch)
  SGD               the same on a random mini-batch: a cheaper, noisy estimate of the gradient
  momentum          v_t = beta v_{t-1} - lr grad C(theta_t): speed builds up where the slope keeps its sign
  Nesterov          momentum, with the gradient taken at the look-ahead point theta_t + beta v_{t-1}
  Adam              momentum plus a step size per parameter from a running average of grad^2
All five are torch.optim classes, made by common.training.make_optimizer.

What to look for:
  figures/lj_6_loss_vs_step.png, the Lennard-Jones fit: the training MSE against the optimizer step
    (log scale). Gradient descent sits for hundreds of steps on a plateau (a shallow direction of the
    cost); SGD follows it step for step, with a little noise, at a fifth of the cost per step; momentum
    and Nesterov leave the plateau far sooner and end 100 times lower; Adam, which also rescales each
    parameter's step, is fastest.
  figures/lj_6_surface_paths.png, a 2-D cost with a shallow valley and a local minimum (common/surfaces.py)
    where the paths can be drawn. Left: plain gradient descent crawls down the valley and stops in the
    local minimum; momentum (and Nesterov) gain speed along the shallow valley, roll through the local
    minimum and settle in the global one; noisy gradients (what mini-batches give) shake gradient descent
    out of the local minimum. Right: the cost above the global minimum against the step.
"""

# %% Hyperparameters: edit these, or override on the command line (--learning-rate 0.05)
N_POINTS = 40              # training points, evenly spaced
R_MIN, R_MAX = 0.9, 2.0    # sigma
N_BASIS = 40               # Gaussian basis functions ...
BASIS_MIN, BASIS_MAX = 0.9, 3.0  # ... with centres over this range (sigma)
WIDTH = 20                 # neurons per hidden layer
DEPTH = 2                  # hidden layers
STEPS = 1500               # optimizer steps for each method
LEARNING_RATE = 0.03       # gradient descent, SGD, momentum, Nesterov
ADAM_LEARNING_RATE = 0.01  # Adam
MOMENTUM = 0.9             # beta, for momentum and Nesterov
BATCH_SIZE = 8             # SGD's mini-batch (the others use all N_POINTS)
SEED = 0                   # the same initial weights for every method
# the 2-D surface (common/surfaces.py): where the paths start, how long and how fast they go
SURFACE_START = (1.5, 5.0)
SURFACE_STEPS = 400
SURFACE_LEARNING_RATE = 0.1  # for every method on the surface
SURFACE_NOISE = 3.0          # size of the random kick added to each gradient ("noisy" path)
QUICK = {"STEPS": 150}       # --quick: settings for tests

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find common/ from any folder
from common import cli

cli.apply_overrides(globals(), quick=QUICK)
cli.check_standard(globals())  # N_POINTS, N_BASIS, WIDTH, DEPTH, BATCH_SIZE, LEARNING_RATE, MOMENTUM, R_MIN/R_MAX
for _name in ("STEPS", "SURFACE_STEPS"):
    cli.check(globals()[_name] >= 1, f"{_name} must be >= 1, got {globals()[_name]}")
for _name in ("ADAM_LEARNING_RATE", "SURFACE_LEARNING_RATE"):
    cli.check(globals()[_name] > 0, f"{_name} must be > 0, got {globals()[_name]}")
cli.check(BATCH_SIZE <= N_POINTS, f"BATCH_SIZE must be <= N_POINTS ({N_POINTS}), got {BATCH_SIZE}")
cli.check(SURFACE_NOISE >= 0, f"SURFACE_NOISE must be >= 0, got {SURFACE_NOISE}")
cli.check(len(SURFACE_START) == 2, f"SURFACE_START must be two numbers x,y, got {SURFACE_START}")

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import DataLoader

from common import surfaces
from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel, count_parameters
from common.plotting import save_figure, show
from common.training import evaluate, make_optimizer, set_seed, train_epoch

torch.set_num_threads(1)  # tiny networks: one thread is fastest

# The methods compared: label, optimizer (common.training.make_optimizer), learning rate, batch size
METHODS = [
    ("gradient descent", "sgd", LEARNING_RATE, N_POINTS),
    (f"SGD (batches of {BATCH_SIZE})", "sgd", LEARNING_RATE, BATCH_SIZE),
    ("momentum", "momentum", LEARNING_RATE, N_POINTS),
    ("Nesterov", "nesterov", LEARNING_RATE, N_POINTS),
    ("Adam", "adam", ADAM_LEARNING_RATE, N_POINTS),
]

# %% 1 Data
train_set = LJDataset(N_POINTS, R_MIN, R_MAX)
all_points = [(train_set.r, train_set.energy)]  # one batch holding every point
print(f"{N_POINTS} training points in [{R_MIN}, {R_MAX}] sigma; SGD draws mini-batches of {BATCH_SIZE}")

# %% 2 Model
descriptor = GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX)
set_seed(SEED)
start_weights = LJModel(descriptor, WIDTH, DEPTH).state_dict()  # every method starts from these
print(f"{DEPTH} x {WIDTH} GELU network: {count_parameters(LJModel(descriptor, WIDTH, DEPTH)):,} "
      "trainable parameters")

# %% 3 Cost function
loss_fn = torch.nn.MSELoss()  # mean squared error, epsilon^2
# The toy cost on the plane (x, y): a steep-walled, shallow valley with a dip (local minimum) on the way
# down to the global minimum at (0, 0).
local_min = surfaces.local_minimum()
print(f"2-D surface: global minimum (0, 0), cost 0; local minimum ({local_min[0]:.2f}, {local_min[1]:.2f}), "
      f"cost {surfaces.cost(*local_min):.3f}; saddle between them at y = {surfaces.barrier()[1]:.2f}")

# %% 4 Find the parameters
# (a) the Lennard-Jones fit: one optimizer step per mini-batch, the MSE over all points after each step
lj_losses = {}
for label, name, lr, batch_size in METHODS:
    model = LJModel(descriptor, WIDTH, DEPTH)
    model.load_state_dict(start_weights)
    optimizer = make_optimizer(name, model.parameters(), lr, momentum=MOMENTUM)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(SEED))
    batches, losses = iter(loader), []
    for step in range(STEPS):
        batch = next(batches, None)
        if batch is None:  # epoch over: reshuffle
            batches = iter(loader)
            batch = next(batches)
        train_epoch(model, [batch], optimizer, loss_fn)  # a one-batch epoch = one step theta' = theta + v
        losses.append(evaluate(model, all_points, loss_fn))
    if not all(map(math.isfinite, losses)):
        cli.fail(f"{label} diverged (MSE became inf/nan): lower its learning rate")
    lj_losses[label] = np.array(losses)
    print(f"{label:22s} lr {lr:g}: training MSE {losses[STEPS // 10 - 1]:.2e} after {STEPS // 10} steps, "
          f"{losses[-1]:.2e} epsilon^2 after {STEPS}")

# (b) the 2-D surface: the same optimizers (SGD's mini-batch noise as a random kick on each gradient)
paths = {}
for label, name, lr, batch_size in METHODS:
    noise = SURFACE_NOISE if batch_size < N_POINTS else 0.0
    label = "noisy gradient descent" if noise else label
    paths[label] = surfaces.descend(
        lambda params: make_optimizer(name, params, SURFACE_LEARNING_RATE, momentum=MOMENTUM),
        SURFACE_START, SURFACE_STEPS, noise=noise, seed=SEED)
for label, path in paths.items():
    end = path[-1]
    where = "global minimum" if surfaces.in_global_basin(end) else "LOCAL minimum"
    valley = np.flatnonzero(np.abs(path[:, 1]) < 0.5)
    reached = f", |y| < 0.5 first at step {valley[0]}" if len(valley) else ""
    print(f"surface, {label:22s}: ends at ({end[0]:.2f}, {end[1]:.2f}), the {where} "
          f"(cost {surfaces.cost(*end):.3f}){reached}")

# %% 5 Look at the result
fig, ax = plt.subplots(figsize=(7, 4.5))
for label, losses in lj_losses.items():
    ax.plot(np.arange(1, STEPS + 1), losses, label=label, lw=1.3)
ax.set(yscale="log", xlabel="optimizer step", ylabel="training MSE (epsilon$^2$)",
       title=f"Lennard-Jones fit, {N_POINTS} points: loss against step")
ax.legend()
save_figure(fig, "lj_6_loss_vs_step")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.1, 1]})
x_max = max(2.0, abs(SURFACE_START[0]) * 1.2)
y_lo, y_hi = -2.0, max(6.0, SURFACE_START[1] + 0.5)
xx, yy = np.meshgrid(np.linspace(-x_max, x_max, 200), np.linspace(y_lo, y_hi, 300))
ax1.contourf(xx, yy, surfaces.cost(xx, yy), levels=40, cmap="Greys_r", alpha=0.6)
ax1.contour(xx, yy, surfaces.cost(xx, yy), levels=20, colors="grey", linewidths=0.4)
for label, path in paths.items():
    ax1.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.9, label=label)
    ax2.plot(np.maximum(surfaces.cost(path[:, 0], path[:, 1]), 1e-8), lw=1.2, label=label)
ax1.plot(*SURFACE_START, "ko", ms=7, label="start")
ax1.plot(*surfaces.GLOBAL_MINIMUM, "g*", ms=14, label="global minimum")
ax1.plot(*local_min, "rX", ms=10, label="local minimum")
ax1.set(xlabel="x (steep direction)", ylabel="y (shallow direction)", xlim=(-x_max, x_max),
        ylim=(y_lo, y_hi), title=f"paths, {SURFACE_STEPS} steps of lr {SURFACE_LEARNING_RATE:g}")
ax1.legend(fontsize=8, loc="lower right")
ax2.axhline(surfaces.cost(*local_min), color="r", ls=":", label="local minimum")
ax2.set(yscale="log", ylim=(1e-8, None), xlabel="step", ylabel="cost above the global minimum",
        title="the same runs: cost against step")
ax2.legend(fontsize=8)
save_figure(fig, "lj_6_surface_paths")
show()
best = min(lj_losses, key=lambda k: lj_losses[k][-1])
print(f"done: lowest training MSE after {STEPS} steps: {best}, {lj_losses[best][-1]:.2e} epsilon^2")
