"""Worked solutions to lj_1_overfit.py's exercises (slides 1-8: overfitting).

Run all: ``python solutions/lj_1_overfit.py``; one: ``python solutions/lj_1_overfit.py 2``.
"""

import functools
import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel
from common.training import evaluate
from solutions import main, run_lesson

LESSON = "lj_1_overfit.py"
run = functools.cache(run_lesson)  # a run that several exercises need is done once


def seeds(quick):
    """quick: 1 seed instead of 5 (the claims hold for every seed)."""
    return ("--n-seeds", 1) if quick else ()


# %% Exercise 1
# Kind: read the figure
# Time: 5 min
# Practises: reading training and unseen errors; what overfitting looks like in numbers
# Checked by: tests/test_solutions_lj.py
# Change: none: ``python lj_1_overfit.py`` and read its lines ``seed k: MSE (epsilon^2) ...``.
# Answer (measured 2026-12-06 on the 2-core VM): the training MSE is 3e-16 to 2e-14 :math:`\varepsilon^2`, the
#    interpolation MSE 0.61 to 0.74 :math:`\varepsilon^2`: 13 to 15 orders of magnitude more, for every seed.
#    The extrapolation MSE (1.6 to 3.6 :math:`\varepsilon^2`) is larger still, also for every seed. That the
#    unseen errors are many orders of magnitude above the training error, and extrapolation the worst, holds
#    on any machine and seed.
# Why: 6,601 parameters can pass through 10 points in countless ways; nothing in the cost says what
#    to do between or beyond them, so each seed's fit does something different there.


def exercise_1(out=None, quick=False):
    res = run(LESSON, *seeds(quick), out=out)
    rows = [
        [float(x) for x in line.split("training ")[1].replace("|", " ").split() if x[0].isdigit()]
        for line in res["stdout"].splitlines()
        if line.startswith("seed ")
    ]  # per seed: training, interpolation, extrapolation MSE
    train, interp, extrap = np.array(rows).T
    return {
        "train_mse_max_eps2": float(train.max()),
        "interp_mse_min_eps2": float(interp.min()),
        "extrap_over_interp_min": float((extrap / interp).min()),
        "orders_of_magnitude_min": math.log10(interp.min() / train.max()),
    }


# %% Exercise 2
# Kind: predict, then run
# Time: 10 min
# Practises: what more data does to an overfitting model
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_1_overfit.py --n-train 20`` (or N_TRAIN = 20 at the top)
# Answer (measured 2026-12-06 on the 2-core VM): the largest interpolation MSE over the 5 seeds falls from
#    0.74 to 0.086 :math:`\varepsilon^2` (8.6 times lower). The extrapolation MSE falls too (largest 3.6 ->
#    0.90 :math:`\varepsilon^2`) but stays 4 to 10 times above the interpolation MSE: beyond r = 2 sigma the
#    fits still go astray. The training MSE rises from at most 2e-14 to at most 6e-4 :math:`\varepsilon^2`
#    (four seeds below 4e-6): 20 points are harder to memorise in 600 epochs. That the interpolation MSE falls
#    several-fold and extrapolation stays worse holds on any machine and seed.
# Why: twice as many points halve the gaps in which the fit can wander; beyond the last point there
#    are still no data at all.


def exercise_2(out=None, quick=False):
    base = run(LESSON, *seeds(quick), out=out)
    more = run(LESSON, "--n-train", 20, *seeds(quick), out=out)
    return {
        f"{name}_{n}": res[f"{name}_mse_max_eps2"]
        for n, res in ((10, base), (20, more))
        for name in ("train", "interpolation", "extrapolation")
    }


# %% Exercise 3
# Kind: predict, then run
# Time: 10 min
# Practises: a network memorises noise as readily as signal
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_1_overfit.py --noise 0.1`` (noise of 0.1 epsilon on the 10 training energies)
# Answer (measured 2026-12-06 on the 2-core VM): the training MSE stays tiny (at most 1.2e-15
#    :math:`\varepsilon^2`, 13 orders of magnitude below the noise's own variance 0.01 :math:`\varepsilon^2`):
#    the network passes through the noisy points as well. The interpolation MSE is about the same (largest
#    0.74 -> 0.72 :math:`\varepsilon^2`): with 10 points the model's wandering between them dwarfs a noise of
#    0.1. That the training MSE stays orders of magnitude below 0.01 holds on any machine and seed.
# Why: with 6,601 parameters nothing stops the fit from following every wobble of the data; a
#    training MSE far below the noise level is itself a sign of overfitting.


def exercise_3(out=None, quick=False):
    noisy = run(LESSON, "--noise", 0.1, *seeds(quick), out=out)
    base = run(LESSON, *seeds(quick), out=out)
    return {
        "train_mse_max_noisy_eps2": noisy["train_mse_max_eps2"],
        "noise_variance_eps2": 0.1**2,
        "interpolation_mse_max_eps2": base["interpolation_mse_max_eps2"],
        "interpolation_mse_max_noisy_eps2": noisy["interpolation_mse_max_eps2"],
    }


# %% Exercise 4
# Kind: write code
# Time: 20 min
# Practises: writing a PyTorch Dataset; testing a model on another potential ("try fake simple data")
# Checked by: tests/test_solutions_lj.py
# Change: the class ``MorseDataset`` below (the three methods of slide 3), then lj_1's data, model and
#    loop on it: in the lesson replace ``LJDataset(...)`` by ``MorseDataset(...)`` in cell 1.
# Answer (measured 2026-12-06 on the 2-core VM, 5 seeds, lj_1's settings): on the Morse potential the same
#    network memorises the 10 points as well (training MSE <= 6e-16 :math:`\varepsilon^2`) and again fails on
#    the unseen points: interpolation MSE 0.22 to 0.27 :math:`\varepsilon^2`, extrapolation up to 1.3
#    :math:`\varepsilon^2` (Lennard-Jones, seed 0, the same loop: 0.72, as the lesson prints). Unseen errors
#    many orders of magnitude above the training error, extrapolation the worst: this holds on any machine and
#    seed.
# Why: the network knows nothing about Lennard-Jones; it is a flexible function that 6,601
#    parameters bend through whatever 10 points it is given.


class MorseDataset(torch.utils.data.Dataset):
    """Points (r, E(r)) of the Morse potential E = D (1 - exp(-a (r - r_e)))^2 - D (epsilon, sigma):
    the same well depth D = 1 and minimum r_e = 2^(1/6) as Lennard-Jones, and a = 5.35 / sigma, which
    gives the same curvature at the minimum."""

    def __init__(self, n_points, r_min, r_max, depth=1.0, a=5.35, r_e=2 ** (1 / 6)):
        r = torch.linspace(r_min, r_max, n_points).unsqueeze(1)  # shape (n, 1), as LJDataset
        self.r = r
        self.energy = depth * (1 - torch.exp(-a * (r - r_e))) ** 2 - depth

    def __len__(self):
        return len(self.r)

    def __getitem__(self, i):
        return self.r[i], self.energy[i]


def overfit(train_set, interp_set, extrap_set, n_seeds=5, epochs=600):
    """lj_1's model and loop (Adam, lr 2e-3, batches of 5) for n_seeds seeds: MSEs per seed."""
    descriptor = GaussianBasis(40, 0.9, 3.0)
    mses = []
    for seed in range(n_seeds):
        torch.manual_seed(seed)
        model = LJModel(descriptor, 40, 4, "gelu")
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        loader = DataLoader(train_set, batch_size=5, shuffle=True)
        for _ in range(epochs):
            for r, energy in loader:
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(r), energy).backward()
                optimizer.step()
        mses.append(
            [evaluate(model, DataLoader(d, batch_size=len(d))) for d in (train_set, interp_set, extrap_set)]
        )
    return np.array(mses)


def exercise_4(out=None, quick=False):
    torch.set_num_threads(1)
    mses = overfit(
        MorseDataset(10, 0.9, 2.0),
        MorseDataset(200, 0.9, 2.0),
        MorseDataset(200, 2.0, 3.0),
        1 if quick else 5,
    )
    answer = {
        "morse_train_mse_max_eps2": float(mses[:, 0].max()),
        "morse_interp_mse_min_eps2": float(mses[:, 1].min()),
        "morse_interp_mse_max_eps2": float(mses[:, 1].max()),
        "morse_extrap_mse_max_eps2": float(mses[:, 2].max()),
    }
    if not quick:  # the same loop on Lennard-Jones gives the lesson's seed 0: 7.17e-01 (interpolation)
        lj = overfit(LJDataset(10, 0.9, 2.0), LJDataset(200, 0.9, 2.0), LJDataset(200, 2.0, 3.0), 1)
        answer["lj_interp_mse_seed0_eps2"] = float(lj[0, 1])
    return answer


if __name__ == "__main__":
    main(globals())
