"""A 2-D toy cost surface to watch optimizers move (slides "Find: gradient descent", "Momentum",
"Use stochasticity to get out of local minima"; Mehta et al., Phys. Rep. 810, 1-124 (2019)).

A network has thousands of parameters, so its cost surface cannot be drawn. This one has two, theta = (x, y),
and the two features that matter for training:

- a shallow valley: steep across (x, curvature STEEP), shallow along (y, curvature SHALLOW). The step size
  must be small enough for the steep direction, so plain gradient descent crawls along the shallow one;
  momentum builds up speed there.
- a local minimum in the valley: a dip at y ~ DIP_CENTRE traps plain gradient descent, while the global
  minimum is at (0, 0). Together the two wells form a tilted (asymmetric) double well along the valley.

    C(x, y) = STEEP x^2 / 2 + SHALLOW y^2 / 2 - DIP_DEPTH exp(-(y - DIP_CENTRE)^2 / (2 DIP_WIDTH^2))

`descend` runs any torch.optim optimizer on it (the same classes that train the networks) and returns the
path; `noise` adds a random kick to every gradient, the way a mini-batch gradient differs from the
full-batch one.
"""
import math

import numpy as np
import torch

STEEP = 2.0  # curvature across the valley (x)
SHALLOW = 0.1  # curvature along the valley (y)
DIP_DEPTH = 0.25  # depth of the dip that makes the local minimum
DIP_CENTRE = 2.5  # where along the valley the dip sits
DIP_WIDTH = 0.2  # width of the dip

GLOBAL_MINIMUM = (0.0, 0.0)


def cost(x, y):
    """C(x, y) for floats, NumPy arrays (contour plots) or torch tensors (autograd)."""
    exp = torch.exp if isinstance(y, torch.Tensor) else np.exp
    return 0.5 * STEEP * x**2 + 0.5 * SHALLOW * y**2 - DIP_DEPTH * exp(-((y - DIP_CENTRE) ** 2) / (2 * DIP_WIDTH**2))


def _valley_slope(y):
    """dC/dy along the valley floor (x = 0)."""
    return SHALLOW * y + DIP_DEPTH * (y - DIP_CENTRE) / DIP_WIDTH**2 * math.exp(
        -((y - DIP_CENTRE) ** 2) / (2 * DIP_WIDTH**2)
    )


def _root(lo, hi):
    """Bisection for dC/dy = 0 on [lo, hi] (the slope changes sign there)."""
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if (_valley_slope(lo) > 0) == (_valley_slope(mid) > 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def local_minimum():
    """(x, y) of the local minimum in the dip."""
    return 0.0, _root(DIP_CENTRE - 2 * DIP_WIDTH, DIP_CENTRE)


def barrier():
    """(x, y) of the saddle between the local and the global minimum."""
    return 0.0, _root(1.0, local_minimum()[1] - 1e-9)


def descend(make_optimizer, start, steps, noise=0.0, seed=0):
    """Follow an optimizer on the surface from `start`.

    make_optimizer: callable taking a list of parameters and returning a torch.optim optimizer.
    noise: standard deviation of the random kick added to each gradient component; it decays linearly to zero
        over the run (like a learning-rate schedule), so a noisy run settles at the end.
    Returns the path as a NumPy array of shape (steps + 1, 2).
    """
    generator = torch.Generator().manual_seed(seed)
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([theta])
    path = [theta.detach().clone()]
    for step in range(steps):
        optimizer.zero_grad()
        cost(theta[0], theta[1]).backward()
        if noise > 0:
            kick = noise * (1 - step / steps)
            theta.grad += kick * torch.randn(2, dtype=torch.float64, generator=generator)
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path).numpy()


def in_global_basin(point):
    """True when a point lies on the global-minimum side of the barrier."""
    return point[1] < barrier()[1]
