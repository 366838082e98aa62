r"""lj_6_optimizers.py: slides "Find: gradient descent", "Momentum" and "Use stochasticity to get out
of local minima" (slide 12; after Mehta et al., "A high-bias, low-variance introduction to Machine
Learning for physicists", Phys. Rep. 810, 1-124 (2019), section IV).

Every optimizer moves the parameters by a step :math:`v_t`: :math:`\theta_{t+1} = \theta_t + v_t`
(:math:`\eta`: the learning rate).

* gradient descent: :math:`v_t = -\eta \nabla C(\theta_t)`, the gradient over all training points
  (full batch)
* SGD: the same on a random mini-batch: a cheaper, noisy estimate of the gradient
* momentum: :math:`v_t = \beta v_{t-1} - \eta \nabla C(\theta_t)`: speed builds up where the slope keeps
  its sign
* Nesterov: momentum, with the gradient taken at the look-ahead point :math:`\theta_t + \beta v_{t-1}`
* Adam: momentum plus a step size per parameter from a running average of :math:`(\nabla C)^2`

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
N_TRAIN = 40  # training points, evenly spaced
R_MIN = 0.9  # the data start at this distance (sigma) ...
R_MAX = 2.0  # ... and end at this one (sigma)
N_BASIS = 40  # Gaussian basis functions ...
BASIS_MIN = 0.9  # the Gaussians' centres spread from this distance (sigma) ...
BASIS_MAX = 3.0  # ... to this one (sigma)
WIDTH = 20  # neurons per hidden layer
DEPTH = 2  # hidden layers
STEPS = 1500  # optimizer steps for each method
LEARNING_RATE = 0.03  # gradient descent, SGD, momentum, Nesterov
ADAM_LEARNING_RATE = 0.01  # Adam
MOMENTUM = 0.9  # beta, for momentum and Nesterov
BATCH_SIZE = 8  # SGD's mini-batch (the others use all N_TRAIN)
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
if BATCH_SIZE > N_TRAIN:
    fail(f"BATCH_SIZE must be <= N_TRAIN ({N_TRAIN}), got {BATCH_SIZE}")
train_set = LJDataset(N_TRAIN, R_MIN, R_MAX)
all_points = [(train_set.r, train_set.energy)]  # one batch holding every point
print(f"{N_TRAIN} training points in [{R_MIN}, {R_MAX}] sigma; SGD draws mini-batches of {BATCH_SIZE}")

# %% 2 Model
# One small network; every method starts from the same initial weights.
# The methods compared: label, optimizer (common.training.make_optimizer), learning rate, batch size
METHODS = [
    ("gradient descent", "sgd", LEARNING_RATE, N_TRAIN),
    (f"SGD (batches of {BATCH_SIZE})", "sgd", LEARNING_RATE, BATCH_SIZE),
    ("momentum", "momentum", LEARNING_RATE, N_TRAIN),
    ("Nesterov", "nesterov", LEARNING_RATE, N_TRAIN),
    ("Adam", "adam", ADAM_LEARNING_RATE, N_TRAIN),
]

descriptor = GaussianBasis(N_BASIS, BASIS_MIN, BASIS_MAX)
torch.manual_seed(SEED)
start_weights = LJModel(descriptor, WIDTH, DEPTH).state_dict()  # every method starts from these
print(
    f"{DEPTH} x {WIDTH} GELU network: {count_parameters(LJModel(descriptor, WIDTH, DEPTH)):,} "
    "trainable parameters"
)

# %% 3 Cost function
# For the network: the MSE (:math:`\varepsilon^2`), a cost in as many dimensions as the network has trainable
# parameters (printed above: 1,261 at the default WIDTH and DEPTH), which cannot be drawn. So we also use a
# cost of only two parameters :math:`\theta = (x, y)`, with the two features that matter for training: a
# shallow valley (steep across, curvature STEEP; shallow along, curvature SHALLOW), so the step must be small
# for the steep direction and plain gradient descent crawls along the shallow one; and a dip in the valley at
# y ~ DIP_CENTRE: a local minimum on the way to the global one at (0, 0).
# :math:`C(x, y) = \frac{1}{2} a x^2 + \frac{1}{2} b y^2 - d \exp(-(y - y_d)^2 / 2w^2)`, with a = STEEP,
# b = SHALLOW, d = DIP_DEPTH, :math:`y_d` = DIP_CENTRE, w = DIP_WIDTH.
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
# Each step moves the parameters by :math:`\theta_{t+1} = \theta_t + v_t`. Gradient descent:
# :math:`v_t = -\eta \nabla C(\theta_t)`. Momentum: :math:`v_t = \beta v_{t-1} - \eta \nabla C(\theta_t)`.
# Adam, with running averages of the gradient g and of its square,
# :math:`m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t`, :math:`s_t = \beta_2 s_{t-1} + (1 - \beta_2) g_t^2`:
# :math:`v_t = -\eta \hat m_t / (\sqrt{\hat s_t} + \epsilon)` (hats: corrected for the start at zero).
# (a) The Lennard-Jones fit: each method takes STEPS steps, one step per mini-batch (train_epoch on a
# single batch is lj_1's zero_grad / backward / step); after each step the MSE over all points.
lj_losses = {}
early = max(1, STEPS // 10)  # the MSE is printed after this many steps and at the end
for label, name, lr, batch_size in METHODS:
    model = LJModel(descriptor, WIDTH, DEPTH)
    model.load_state_dict(start_weights)
    optimizer = make_optimizer(name, model.parameters(), lr, momentum=MOMENTUM)
    shuffle = torch.Generator().manual_seed(SEED)  # the same batch order for every method
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=shuffle)
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
            f"{label} diverged (MSE became inf/nan): lower {'ADAM_' if name == 'adam' else ''}LEARNING_RATE "
            f"(now {lr:g}); nothing was saved"
        )
    lj_losses[label] = np.array(losses)
    print(
        f"{label:22s} lr {lr:g}: training MSE {losses[early - 1]:.2e} after {early} steps, "
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
            kick = torch.randn(2, dtype=torch.float64, generator=generator)
            theta.grad += noise * (1 - step / SURFACE_STEPS) * kick
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path).numpy()


SETTLED_GRADIENT = 0.01  # |grad C| below this counts as stopped (it is about 0.5 on the valley's slope)


def cost_at(point):
    """C at a point (or at points: rows x and y), inf where it overflows (a diverged path)."""
    with np.errstate(over="ignore", invalid="ignore"):
        cost = surface(np.asarray(point[0], dtype=float), np.asarray(point[1], dtype=float))
    return np.where(np.isfinite(cost), cost, np.inf)


def gradient_norm(point):
    """|grad C| at a point of the surface."""
    theta = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    surface(theta[0], theta[1]).backward()
    return float(theta.grad.norm())


def diverged(path):
    end, start = path[-1], path[0]
    with np.errstate(over="ignore", invalid="ignore"):
        return not np.isfinite(end).all() or not surface(*end) <= 10 * surface(*start) + 1


def in_global_basin(path):
    """Whether a path ends in the global minimum's basin. C is a function of x plus one of y, so
    for gradient descent y alone decides the basin: y below the saddle."""
    return not diverged(path) and path[-1][1] < saddle_y


def where_it_ends(path):
    """What the end point of a path is: a minimum only where the gradient (nearly) vanishes."""
    end = path[-1]
    if diverged(path):
        return "diverged (the cost grew without bound): lower SURFACE_LEARNING_RATE"
    grad = gradient_norm(end)
    basin = "the global minimum's basin" if in_global_basin(path) else "the local minimum's basin"
    if grad > SETTLED_GRADIENT:
        return f"still moving (|gradient| {grad:.2g}), in {basin}"
    stationary = {"global minimum": (0.0, 0.0), "local minimum": local_min, "saddle point": (0.0, saddle_y)}
    nearest = min(stationary, key=lambda k: np.hypot(*(end - np.array(stationary[k]))))
    return f"at the {nearest} (|gradient| {grad:.1g})"


paths = {}
for label, name, lr, batch_size in METHODS:
    noisy = batch_size < N_TRAIN
    paths["noisy gradient descent" if noisy else label] = descend(name, SURFACE_NOISE if noisy else 0.0, SEED)
for label, path in paths.items():
    end = [f"{v:.2f}" if abs(v) < 1e4 else f"{v:.2g}" for v in path[-1]]
    valley = np.flatnonzero(np.abs(path[:, 1]) < 0.5)
    reached = f", |y| < 0.5 first at step {valley[0]}" if len(valley) else ""
    print(
        f"surface, {label:22s}: ends at ({end[0]}, {end[1]}), cost {cost_at(path[-1]):.3g}: "
        f"{where_it_ends(path)}{reached}"
    )
escaped = sum(in_global_basin(descend("sgd", SURFACE_NOISE, seed)) for seed in range(NOISY_RUNS))
print(
    f"noisy gradient descent ends in the global minimum's basin (y < {saddle_y:.2f}) in {escaped} of "
    f"{NOISY_RUNS} runs (seeds 0-{NOISY_RUNS - 1}); plain gradient descent: "
    + ("in it" if in_global_basin(paths["gradient descent"]) else "not in it")
)

# %% 5 Look at the result
# First figure: the training MSE against the step (log scale). Gradient descent sits for hundreds of
# steps on a plateau (a shallow direction of the cost); SGD follows it with a little noise, at a
# fraction of the cost per step; momentum and Nesterov leave the plateau far sooner; Adam, which also
# rescales each parameter's step, is fastest. Second figure: the paths on the 2-D cost. At the default
# settings plain gradient descent crawls down the valley and stops in the local minimum; momentum (and
# Nesterov) gain speed along the shallow valley, roll through the dip and settle in the global minimum;
# the noisy gradient shakes gradient descent out of the local minimum. Right: the cost above the global
# minimum per step. The printed lines say where each path really ends for your settings.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for label, losses in lj_losses.items():
    ax.plot(np.arange(1, STEPS + 1), losses, label=label, lw=1.3)
ax.set(yscale="log", xlabel="optimizer step", ylabel="training MSE (epsilon$^2$)")
ax.set_title(f"Lennard-Jones fit, {N_TRAIN} points: loss against step")
ax.legend()
save_figure(fig, "lj_6_loss_vs_step")

fig, (ax1, ax2) = plt.subplots(
    1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [1.1, 1]}, layout="constrained"
)
x_max = max(2.0, abs(SURFACE_START[0]) * 1.2)
y_lo, y_hi = -2.0, max(6.0, SURFACE_START[1] + 0.5)
xx, yy = np.meshgrid(np.linspace(-x_max, x_max, 200), np.linspace(y_lo, y_hi, 300))
ax1.contourf(xx, yy, surface(xx, yy), levels=40, cmap="Greys_r", alpha=0.6)
ax1.contour(xx, yy, surface(xx, yy), levels=20, colors="grey", linewidths=0.4)
for label, path in paths.items():
    ax1.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.9, label=label)
    ax2.plot(np.maximum(cost_at(path.T), 1e-8), lw=1.2, label=label)
ax1.plot(*SURFACE_START, "ko", ms=7, label="start")
ax1.plot(*(0.0, 0.0), "g*", ms=14, label="global minimum")
ax1.plot(*local_min, "rX", ms=10, label="local minimum")
ax1.set(xlabel="x (steep direction)", ylabel="y (shallow direction)", xlim=(-x_max, x_max), ylim=(y_lo, y_hi))
ax1.set_title(f"paths, {SURFACE_STEPS} steps of lr {SURFACE_LEARNING_RATE:g}")
ax1.legend(fontsize=9, loc="lower right")
ax2.axhline(surface(*local_min), color="r", ls=":", label="local minimum")
ax2.set(yscale="log", ylim=(1e-8, None), xlabel="step", ylabel="cost above the global minimum")
ax2.set_title("the same runs: cost against step")
ax2.legend(fontsize=9)
save_figure(fig, "lj_6_surface_paths")
best = min(lj_losses, key=lambda k: lj_losses[k][-1])
print(f"done: lowest training MSE after {STEPS} steps: {best}, {lj_losses[best][-1]:.2e} epsilon^2")
print(
    "result: "
    + " ".join(
        f"{k.split(' (')[0].replace(' ', '_').lower()}_mse_eps2={v[-1]:.2e}" for k, v in lj_losses.items()
    )
    + f" noisy_global_basin_fraction={escaped / NOISY_RUNS:.2f}"
)
show()

# %% Exercises
# Worked answers: solutions/lj_6_optimizers.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In lj_6_loss_vs_step.png, by what factor is momentum's MSE below gradient descent's
#    after 150 steps? Which method is lowest after STEPS?
# 2. (predict, then run) Set MOMENTUM = 0.5 (``--momentum 0.5 --steps 150``: the surface is unchanged by
#    --steps). Will momentum and Nesterov still roll through the dip to the global minimum?
# 3. (predict, then run) Set SURFACE_NOISE = 1 (``--surface-noise 1 --steps 150``). In how many of the 20
#    noisy runs will gradient descent still escape the local minimum: more, fewer, about as many?
# 4. (write code) Write Nesterov momentum by hand on the 2-D surface,
#    :math:`v_t = \beta v_{t-1} - \eta \nabla C(\theta_t + \beta v_{t-1})`,
#    :math:`\theta_{t+1} = \theta_t + v_t`, and compare your path with torch's
#    (``make_optimizer("nesterov", ...)``). They differ: which points of yours does torch's path follow?
