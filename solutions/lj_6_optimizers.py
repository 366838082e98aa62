"""Worked solutions to lj_6_optimizers.py's exercises (slide 12: gradient descent, momentum, noise).

Run all: ``python solutions/lj_6_optimizers.py``; one: ``python solutions/lj_6_optimizers.py 4``.
"""

import functools
import re

import numpy as np
import torch

from common.training import make_optimizer
from solutions import main, run_lesson

LESSON = "lj_6_optimizers.py"
run = functools.cache(run_lesson)  # a run that several exercises need is done once
SHORT = ("--steps", 150)  # the Lennard-Jones race stops after 150 steps; the 2-D surface is unchanged


def changed(quick, *change):
    """The settings of a run with one change. quick: one run with the changes of exercises 2 and 3
    together (MOMENTUM moves only the momentum and Nesterov paths, SURFACE_NOISE only the noisy one)."""
    return ("--momentum", 0.5, "--surface-noise", 1) if quick else change


def surface_ends(stdout):
    """{path: (where it ends, first step with |y| < 0.5 or None)} from the lesson's ``surface, ...`` lines."""
    ends = {}
    for label, rest in re.findall(r"^surface, (.+?)\s*: ends at (.*)$", stdout, re.M):
        where = re.search(r": (at the \w+ minimum|still moving|diverged)", rest).group(1)
        step = re.search(r"first at step (\d+)", rest)
        ends[label] = (where, int(step.group(1)) if step else None)
    return ends


# %% Exercise 1
# Kind: read the figure
# Time: 5 min
# Practises: reading a log-scale loss curve; what momentum buys on a plateau
# Checked by: tests/test_solutions_lj.py
# Change: none: read lj_6_loss_vs_step.png and the printed ``training MSE ... after 150 steps`` lines.
# Answer (measured 2026-12-06 on the 2-core VM): after 150 steps gradient descent is still on its plateau at
#    1.5 :math:`\varepsilon^2`, momentum is at 5.0e-3 (300 times lower), Adam at 6.8e-4. After 1500 steps Adam
#    is lowest (2.4e-7 :math:`\varepsilon^2`), momentum and Nesterov at 4e-5, gradient descent and SGD at
#    3-4e-3. The order (Adam < momentum, Nesterov < gradient descent) holds on any machine.
# Why: on the plateau the gradient is small but keeps its direction; momentum adds up the steps
#    (up to 1 / (1 - 0.9) = 10 times longer), Adam divides each by the gradient's own size.


def exercise_1(out=None, quick=False):
    res = run(LESSON, *SHORT, out=out)  # 150 steps: the same first 150 steps as the defaults
    final = r"^(\S.*?)\s+lr \S+: training MSE .* (\S+) epsilon\^2 after"  # the MSE after all 150 steps
    after = {m: float(v) for m, v in re.findall(final, res["stdout"], re.M)}
    return {
        "gd_mse_150_eps2": after["gradient descent"],
        "momentum_mse_150_eps2": after["momentum"],
        "adam_mse_150_eps2": after["Adam"],
        "gd_over_momentum_150": after["gradient descent"] / after["momentum"],
    }


# %% Exercise 2
# Kind: predict, then run
# Time: 10 min
# Practises: how much momentum is needed to roll through a local minimum
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_6_optimizers.py --momentum 0.5 --steps 150`` (beta = 0.5 instead of 0.9)
# Answer (measured 2026-12-06 on the 2-core VM): no: momentum and Nesterov now stop in the local
#    minimum (0, 2.46), like plain gradient descent; Adam (no MOMENTUM setting) still reaches the
#    global one. On the Lennard-Jones fit momentum's MSE after 150 steps is 0.16 instead of 5.0e-3
#    :math:`\varepsilon^2`. This holds on any machine (the surface paths have no randomness).
# Why: with beta the steps add up to at most 1 / (1 - beta) times a gradient step: 10 times for 0.9,
#    2 for 0.5. Too little speed is built up along the shallow valley to climb out of the dip.


def exercise_2(out=None, quick=False):
    base = surface_ends(run(LESSON, *SHORT, out=out)["stdout"])
    half = surface_ends(run(LESSON, *SHORT, *changed(quick, "--momentum", 0.5), out=out)["stdout"])
    return {
        "momentum_0.9": base["momentum"],
        "momentum_0.5": half["momentum"],
        "nesterov_0.5": half["Nesterov"],
    }


# %% Exercise 3
# Kind: predict, then run
# Time: 10 min
# Practises: how much noise it takes to escape a local minimum
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_6_optimizers.py --surface-noise 1 --steps 150`` (a kick a third as large)
# Answer (measured 2026-12-06 on the 2-core VM): fewer: 0 of the 20 noisy runs end in the global
#    minimum's basin, instead of 17 of 20; the seed-0 path stays in the local minimum. Fewer escapes
#    holds on any machine (the kicks come from seeded generators).
# Why: to leave the dip a kick must carry the path over the saddle at y = 2.04; the chance of a kick
#    that large falls steeply as the kicks shrink. This is why the noise of small mini-batches, or a
#    learning rate that starts large, helps training escape poor minima.


def exercise_3(out=None, quick=False):
    base = run(LESSON, *SHORT, out=out)
    small = run(LESSON, *SHORT, *changed(quick, "--surface-noise", 1), out=out)
    return {
        "escaped_noise_3": base["noisy_global_basin_fraction"],
        "escaped_noise_1": small["noisy_global_basin_fraction"],
    }


# %% Exercise 4
# Kind: write code
# Time: 25 min
# Practises: writing an optimizer by hand; Nesterov's look-ahead gradient
# Checked by: tests/test_solutions_lj.py
# Change: the function ``nesterov_by_hand`` below:
#    :math:`v_t = \beta v_{t-1} - \eta \nabla C(\theta_t + \beta v_{t-1})`,
#    :math:`\theta_{t+1} = \theta_t + v_t`, on the lesson's 2-D surface from SURFACE_START, and the same path
#    with torch.optim.SGD(nesterov=True) (the lesson's "Nesterov").
# Answer (measured 2026-12-06 on the 2-core VM): both paths end at the global minimum (0, 0). torch's
#    parameters are not :math:`\theta_t` but the look-ahead points :math:`\theta_t + \beta v_t`: these agree
#    with torch's path to 1e-15 at every one of the 400 steps, while :math:`\theta_t` itself differs from
#    torch's parameters by up to 0.43. This holds on any machine (float64).
# Why: torch stores :math:`\theta_t + \beta v_t` so that the gradient it needs is at its own parameters; it is
#    the same method written in shifted variables (Sutskever et al. 2013; PyTorch's SGD docs).

STEEP, SHALLOW, DIP_DEPTH, DIP_CENTRE, DIP_WIDTH = 2.0, 0.1, 0.25, 2.5, 0.2  # the lesson's surface


def cost(theta):
    x, y = theta[0], theta[1]
    dip = DIP_DEPTH * torch.exp(-((y - DIP_CENTRE) ** 2) / (2 * DIP_WIDTH**2))
    return 0.5 * STEEP * x**2 + 0.5 * SHALLOW * y**2 - dip


def gradient(theta):
    theta = theta.clone().requires_grad_(True)
    cost(theta).backward()
    return theta.grad


def nesterov_by_hand(start=(1.5, 5.0), lr=0.1, beta=0.9, steps=400):
    """Paths of theta_t and of the look-ahead point theta_t + beta v_t, shape (steps + 1, 2) each."""
    theta = torch.tensor(start, dtype=torch.float64)
    v = torch.zeros(2, dtype=torch.float64)
    thetas, lookahead = [theta.clone()], [theta.clone()]
    for _ in range(steps):
        v = beta * v - lr * gradient(theta + beta * v)  # the gradient at the look-ahead point
        theta = theta + v
        thetas.append(theta.clone())
        lookahead.append(theta + beta * v)
    return torch.stack(thetas).numpy(), torch.stack(lookahead).numpy()


def nesterov_torch(start=(1.5, 5.0), lr=0.1, beta=0.9, steps=400):
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer("nesterov", [theta], lr, momentum=beta)  # SGD(nesterov=True)
    path = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        cost(theta).backward()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path).numpy()


def exercise_4(out=None, quick=False):
    thetas, lookahead = nesterov_by_hand()
    torch_path = nesterov_torch()
    return {
        "hand_end": thetas[-1].round(6).tolist(),
        "torch_end": torch_path[-1].round(6).tolist(),
        "max_diff_lookahead_vs_torch": float(np.abs(lookahead - torch_path).max()),
        "max_diff_theta_vs_torch": float(np.abs(thetas - torch_path).max()),
    }


if __name__ == "__main__":
    main(globals())
