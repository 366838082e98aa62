"""Worked solutions to lj_2_overfit_with_validation.py's exercises (slide 9: validation, early stopping).

Run all: ``python solutions/lj_2_overfit_with_validation.py``; one: ``... 2``.
"""

import functools

import torch
from torch.utils.data import DataLoader, random_split

from common.descriptors import GaussianBasis
from common.lj import LJDataset, lj_energy
from common.mlp import LJModel
from common.training import evaluate, fit
from solutions import main

# %% Exercise 1
# Kind: read the figure
# Time: 5 min
# Practises: reading loss curves; what early stopping keeps
# Checked by: tests/test_solutions_lj.py
# Change: none: read lj_2_loss_curves.png and the printed line ``stopped early after epoch ...``.
# Answer (measured 2026-12-06 on the 2-core VM): the best validation epoch is 131 (validation MSE 0.052
#    :math:`\varepsilon^2`); training stopped after epoch 281 = 131 + PATIENCE (150). The training MSE at the
#    best epoch is 1.0e-3 :math:`\varepsilon^2`, already below the noise's variance
#    :math:`0.05^2 = 2.5 \cdot 10^{-3}`: the model has begun to follow the noise. "Stop = best + PATIENCE"
#    holds on any machine; the epochs themselves may shift a little with another PyTorch build.
# Why: the loop keeps going PATIENCE epochs past the best one in case the validation loss falls
#    again; it did not, so the weights of epoch 131 come back.


@functools.cache  # each training is done once, however many exercises need it
def lj_2_model(noise=0.05, epochs=2000):
    """The lesson's data split, model and training at its defaults but ``noise`` and ``epochs``:
    (data, test_set, model, history). common.training.fit is the lesson's loop written out in cell 4
    (the same steps in the same order: the same numbers as the lesson prints)."""
    torch.set_num_threads(1)
    data = LJDataset(60, 0.95, 3.0, noise=noise, seed=0, spacing="random")
    train_set, val_set, test_set = random_split(
        data, [36, 12, 12], generator=torch.Generator().manual_seed(0)
    )
    torch.manual_seed(0)
    model = LJModel(GaussianBasis(40, 0.9, 3.0), 40, 4, "gelu")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train_set, batch_size=8, shuffle=True)
    hist = fit(model, loader, optimizer, epochs, DataLoader(val_set, batch_size=12), patience=150)
    return data, test_set, model, hist


def exercise_1(out=None, quick=False):
    hist = lj_2_model()[3]  # or read the lesson's printed line ``stopped early after epoch ...``
    return {
        "best_epoch": hist.best_epoch + 1,
        "stopped_epoch": hist.stopped_epoch + 1,
        "train_mse_at_best_eps2": hist.train[hist.best_epoch],
        "validation_mse_at_best_eps2": hist.validation[hist.best_epoch],
    }


# %% Exercise 2
# Kind: predict, then run
# Time: 10 min
# Practises: overfitting needs something to overfit: noise
# Checked by: tests/test_solutions_lj.py
# Change: ``python lj_2_overfit_with_validation.py --noise 0`` (exact energies)
# Answer (measured 2026-12-06 on the 2-core VM): training goes on longer: the best validation epoch is 492
#    instead of 131 (stop after 642 instead of 281), and the best validation MSE is 3.8 times lower, 0.014
#    instead of 0.052 :math:`\varepsilon^2`. It still stops early: the training MSE reaches 1.2e-5
#    :math:`\varepsilon^2` while the validation MSE stays at 0.014. Later and lower holds on any machine.
# Why: noise is one thing to overfit, not the only one: with 36 points and 6,601 parameters the
#    network can still pass through the points and wander in the gaps between them (as in lj_1).


def exercise_2(out=None, quick=False):
    epochs = 300 if quick else 2000  # quick: the first 300 epochs (the noisy run stops at 281 anyway)
    noisy, exact = lj_2_model(0.05, epochs)[3], lj_2_model(0.0, epochs)[3]
    return {
        "best_epoch_noise_0.05": noisy.best_epoch + 1,
        "best_epoch_noise_0": exact.best_epoch + 1,
        "epochs_run_noise_0": exact.stopped_epoch + 1,
        "validation_mse_noise_0.05_eps2": min(noisy.validation),
        "validation_mse_noise_0_eps2": min(exact.validation),
    }


# %% Exercise 3
# Kind: write code
# Time: 20 min
# Practises: what a test error measures when the reference data are noisy
# Checked by: tests/test_solutions_lj.py
# Change: the function ``test_errors`` below, or at the end of the lesson:
#    ``r, e = data[test_set.indices]; print(((predict(model, r) - lj_energy(r)) ** 2).mean())``,
#    the test MSE against the exact energies E(r) instead of the noisy ones.
# Answer (measured 2026-12-06 on the 2-core VM): against the noisy energies 0.0215 :math:`\varepsilon^2` (the
#    lesson's number), against the exact ones 0.0229; the noise of the 12 test energies is only 0.0019
#    :math:`\varepsilon^2`. So the test MSE is almost all the model's own error, and most of it sits at one
#    point: r = 2.86 sigma gives 73 % of the squared error. That the noise is a small part holds on any
#    machine.
# Why: r = 2.86 sigma lies in the widest gap between training points at that end (2.78 to 2.99 sigma), where
#    the fit wanders (an error of about 0.45 epsilon) although E is nearly flat. The noise adds its variance,
#    :math:`0.05^2 = 0.0025` :math:`\varepsilon^2` on average, to any test MSE: no model can score below it.


def test_errors(data, test_set, model):
    """Test MSE against the noisy energies (as the lesson prints it) and against the exact ones."""
    r, noisy = data[test_set.indices]
    exact = lj_energy(r)
    worst = int(((model(r) - exact) ** 2).argmax())
    return {
        "test_mse_noisy_eps2": evaluate(model, [(r, noisy)]),
        "test_mse_exact_eps2": evaluate(model, [(r, exact)]),
        "noise_in_test_energies_eps2": float(((noisy - exact) ** 2).mean()),
        "worst_test_point_r_sigma": float(r[worst]),
        "worst_test_point_share": float(((model(r) - exact) ** 2)[worst] / ((model(r) - exact) ** 2).sum()),
    }


def exercise_3(out=None, quick=False):
    data, test_set, model, _ = lj_2_model()
    with torch.no_grad():
        return test_errors(data, test_set, model)


if __name__ == "__main__":
    main(globals())
