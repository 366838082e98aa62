"""Worked solutions to lj_3_hyperparameters.py's exercises (slides 4, 5 and 13: descriptor, activation).

Run all: ``python solutions/lj_3_hyperparameters.py``; one: ``python solutions/lj_3_hyperparameters.py 4``.
"""

import functools

import torch
from torch.utils.data import DataLoader

from common.descriptors import GaussianBasis
from common.lj import LJDataset, lj_force
from common.mlp import LJModel
from common.training import evaluate, fit, predict_force
from solutions import main, run_lesson

LESSON = "lj_3_hyperparameters.py"
run = functools.cache(run_lesson)  # a run that several exercises need is done once


# %% Exercise 1
# Kind: predict, then run
# Time: 10 min
# Practises: what a one-hot descriptor can and cannot represent
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_3_hyperparameters.py --descriptor one_hot`` (DESCRIPTOR = "one_hot")
# Answer (measured 2026-12-06 on the 2-core VM): the energy becomes a staircase of 40 steps and the force by
#    autograd is zero everywhere (flat inside each bin; autograd does not see the steps); the test MSE rises
#    from 2.6e-5 to 1.1e-2 :math:`\varepsilon^2`, 440 times (2.6 orders of magnitude), and early stopping ends
#    the run at epoch 141 (best 41). That one-hot is orders of magnitude worse holds on any machine.
# Why: a one-hot code tells the network only which of the 40 bins r falls in: the model's energy is
#    one number per bin, a staircase, and its force :math:`-dE/dr` is zero inside every bin.


def shorter(quick):
    """quick: 100 epochs instead of 400 (the claims hold from there on)."""
    return ("--epochs", 100) if quick else ()


def exercise_1(out=None, quick=False):
    base = run(LESSON, *shorter(quick), out=out)
    one_hot = run(LESSON, "--descriptor", "one_hot", *shorter(quick), out=out)
    return {
        "gaussian_test_mse_eps2": base["test_mse_eps2"],
        "one_hot_test_mse_eps2": one_hot["test_mse_eps2"],
    }


# %% Exercise 2
# Kind: write code
# Time: 15 min
# Practises: why a force field needs a smooth activation
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_3_hyperparameters.py --activation relu``; look at the force panel of lj_3_fit.png.
#    The code below measures the jumps: lj_3's fit with each activation, then the force by autograd
#    on 2,001 points 0.001 sigma apart.
# Answer (measured 2026-12-06 on the 2-core VM): the energy is about as good (the lesson prints a test MSE of
#    2.3e-5 :math:`\varepsilon^2` with ReLU, 2.6e-5 with GELU), but the force is jagged: the largest jump of
#    the force error between neighbouring points is 3.0 epsilon/sigma with ReLU, 0.16 with GELU (19 times
#    less), and the mean force error 0.35 vs 0.082 epsilon/sigma. ReLU's force jumping, GELU's not, holds on
#    any machine.
# Why: a ReLU network is piecewise linear in its inputs; its derivative, the force, jumps wherever a
#    neuron switches on or off. GELU is smooth, and so is its force. MD integrates the force: jumps in
#    it do not conserve energy.


def force_jumps(activation, epochs=400):
    """lj_3's fit (its settings, seed 0) with one activation: the largest jump of the force error
    F_model - F_exact between neighbouring points 0.001 sigma apart, and the mean absolute force
    error, in 1 to 3 sigma (epsilon/sigma). A smooth force changes by O(0.001) between them; a kink
    or a jump does not."""
    torch.set_num_threads(1)
    train = LJDataset(60, 0.95, 3.0, seed=0, spacing="random")
    val = LJDataset(20, 0.95, 3.0, seed=1, spacing="random")
    torch.manual_seed(0)
    model = LJModel(GaussianBasis(40, 0.9, 3.0), 40, 4, activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit(model, DataLoader(train, batch_size=16, shuffle=True), optimizer, epochs, [(val.r, val.energy)], 100)
    r = torch.linspace(1.0, 3.0, 2001).unsqueeze(1)
    error = predict_force(model, r) - lj_force(r)
    return float((error[1:] - error[:-1]).abs().max()), float(error.abs().mean())


def exercise_2(out=None, quick=False):
    epochs = 100 if quick else 400
    (gelu_jump, gelu_err), (relu_jump, relu_err) = (force_jumps(a, epochs) for a in ("gelu", "relu"))
    return {
        "gelu_largest_force_jump": gelu_jump,
        "relu_largest_force_jump": relu_jump,
        "gelu_force_mae": gelu_err,
        "relu_force_mae": relu_err,
    }


# %% Exercise 3
# Kind: predict, then run
# Time: 10 min
# Practises: plain gradient descent vs Adam at the same learning rate (slide 12 ahead)
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_3_hyperparameters.py --optimizer sgd`` (plain mini-batch SGD, lr 1e-3)
# Answer (measured 2026-12-06 on the 2-core VM): far worse: test MSE 0.11 :math:`\varepsilon^2` instead of
#    2.6e-5 (4,000 times); its training MSE ends at 0.13 :math:`\varepsilon^2` (Adam: 2.5e-5), and in
#    TensorBoard its curves stay orders of magnitude above Adam's. Which one wins, by orders of magnitude,
#    holds on any machine.
# Why: 1e-3 is a good step for Adam, which scales every parameter's step to about lr; plain gradient
#    descent multiplies the gradient by lr, and on the flat directions of this cost that is tiny
#    (lj_6 shows the plateau). SGD needs a larger learning rate, or momentum.


def exercise_3(out=None, quick=False):
    base = run(LESSON, *shorter(quick), out=out)
    sgd = run(LESSON, "--optimizer", "sgd", *shorter(quick), out=out)
    return {"adam_test_mse_eps2": base["test_mse_eps2"], "sgd_test_mse_eps2": sgd["test_mse_eps2"]}


# %% Exercise 4
# Kind: write code
# Time: 25 min
# Practises: writing a descriptor (an nn.Module with ``size``); physics in the descriptor
# Checked by: tests/test_solutions_lj.py
# Change: the class ``InversePowers`` below, a descriptor of the two numbers :math:`(r^{-6}, r^{-12})`, used
#    as ``descriptor = InversePowers()`` in cell 2 of the lesson; the rest of lj_3 unchanged.
# Answer (measured 2026-12-06 on the 2-core VM, the code below, both descriptors trained alike): the test MSE
#    is similar, 1.9e-6 (inverse powers) and 7.2e-6 :math:`\varepsilon^2` (Gaussians); beyond the data, from 3
#    to 4 sigma, the inverse powers give 1.9e-8 :math:`\varepsilon^2` and the Gaussians 0.039: six orders of
#    magnitude apart. That the physical descriptor extrapolates and the Gaussians do not holds on any machine.
# Why: :math:`E = 4 (r^{-12} - r^{-6})` is a straight line in these two numbers: the network only has to learn
#    a linear map, which it can do everywhere, also outside the training range; the Gaussians can
#    only describe r where their centres are.


class InversePowers(torch.nn.Module):
    """Descriptor r -> (r^-6, r^-12): the two powers of the Lennard-Jones potential."""

    size = 2  # LJModel reads the descriptor's length from here

    def forward(self, r):  # r of shape (batch, 1) -> (batch, 2)
        return torch.cat([r**-6, r**-12], dim=1)


def lj_3_test_mse(descriptor, epochs=400):
    """lj_3's data, network (4 x 40 GELU), Adam lr 1e-3, batches of 16, early stopping: the test MSE,
    and the MSE from 3 to 4 sigma, beyond the data (extrapolation)."""
    torch.set_num_threads(1)
    train, val, test = (
        LJDataset(n, 0.95, 3.0, seed=s, spacing="random") for n, s in ((60, 0), (20, 1), (20, 2))
    )
    torch.manual_seed(0)
    model = LJModel(descriptor, 40, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit(model, DataLoader(train, batch_size=16, shuffle=True), optimizer, epochs, [(val.r, val.energy)], 100)
    beyond = LJDataset(50, 3.0, 4.0)
    return evaluate(model, [(test.r, test.energy)]), evaluate(model, [(beyond.r, beyond.energy)])


def exercise_4(out=None, quick=False):
    epochs = 100 if quick else 400
    gauss_test, gauss_beyond = lj_3_test_mse(GaussianBasis(40, 0.9, 3.0), epochs)
    power_test, power_beyond = lj_3_test_mse(InversePowers(), epochs)
    return {
        "gaussian_test_mse_eps2": gauss_test,
        "inverse_powers_test_mse_eps2": power_test,
        "gaussian_mse_3_to_4_sigma_eps2": gauss_beyond,
        "inverse_powers_mse_3_to_4_sigma_eps2": power_beyond,
    }


if __name__ == "__main__":
    main(globals())
