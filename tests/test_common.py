"""common/: data, descriptors, network and training loop."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from common.descriptors import (
    SLIDE_EXAMPLE_CENTRES,
    GaussianBasis,
    OneHot,
    make_descriptor,
    slide_example_basis,
)
from common.lj import LJDataset, lj_energy, lj_force
from common.mlp import MLP, LJModel, count_parameters
from common.training import evaluate, fit, make_optimizer, predict_force, train_epoch


def test_dataset_matches_the_analytic_potential():
    ds = LJDataset(25, 0.9, 3.0)
    assert len(ds) == 25
    r, e = ds[3]
    assert r.shape == (1,) and e.shape == (1,)
    rr = ds.r.numpy().ravel().astype(float)
    np.testing.assert_allclose(rr, np.linspace(0.9, 3.0, 25), rtol=1e-6)
    expected = 4 * (rr**-12 - rr**-6)
    np.testing.assert_allclose(ds.energy.numpy().ravel(), expected, rtol=1e-5)
    # the minimum of LJ: E = -1 at r = 2^(1/6); the force is -dE/dr
    assert lj_energy(2 ** (1 / 6)) == pytest.approx(-1.0)
    assert lj_force(2 ** (1 / 6)) == pytest.approx(0.0, abs=1e-12)
    h = 1e-6
    assert lj_force(1.3) == pytest.approx(-(lj_energy(1.3 + h) - lj_energy(1.3 - h)) / (2 * h), rel=1e-6)


def test_dataset_noise_and_seed():
    a, b = LJDataset(50, 1, 2, noise=0.1, seed=1), LJDataset(50, 1, 2, noise=0.1, seed=1)
    assert torch.equal(a.energy, b.energy)
    resid = a.energy.ravel() - lj_energy(a.r.ravel())
    assert 0.05 < resid.std() < 0.15
    with pytest.raises(ValueError):
        LJDataset(0, 1, 2)


def test_gaussian_basis_reproduces_the_slide_example():
    phi = slide_example_basis()(torch.tensor([[3.1]]))[0].numpy()
    assert [round(float(v), 2) for v in phi] == [0.5, 0.3, 0.01, 0.0, 0.0]
    # the same by hand: phi_k(x) = exp(-(x - c_k)^2 / (2 width^2))
    np.testing.assert_allclose(
        phi, np.exp(-((3.1 - np.array(SLIDE_EXAMPLE_CENTRES)) ** 2) / 0.5), rtol=1e-5, atol=1e-8
    )
    equal = GaussianBasis(40, 0.9, 3.0)
    assert equal(torch.rand(7, 1) + 1).shape == (7, 40)
    assert equal.width == pytest.approx(2.1 / 39)


def test_one_hot_marks_exactly_one_bin():
    enc = OneHot(4, 0.0, 4.0)
    out = enc(torch.tensor([[0.5], [1.5], [3.99], [9.0], [-1.0]]))
    assert out.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [1, 0, 0, 0]]
    with pytest.raises(ValueError):
        make_descriptor("fourier", 4, 0, 1)


def test_the_overfit_model_has_6601_parameters():
    model = LJModel(GaussianBasis(40, 0.9, 3.0), width=40, depth=4, activation="gelu")
    assert count_parameters(model) == 6601
    assert isinstance(model.mlp.layers[1], torch.nn.GELU)
    assert isinstance(model.mlp.layers[-1], torch.nn.Linear)  # linear output
    with pytest.raises(ValueError):
        MLP(3, activation="sigmoidish")


def test_training_memorises_a_few_points():
    torch.manual_seed(0)
    ds = LJDataset(5, 1.0, 2.0)
    model = LJModel(GaussianBasis(20, 0.9, 2.1), 20, 2)
    opt = make_optimizer("adam", model.parameters(), 1e-2)
    loader = DataLoader(ds, batch_size=5)
    hist = fit(model, loader, opt, 400)
    assert hist.train[-1] < 1e-4 < hist.train[0]
    assert evaluate(model, loader) < 1e-4


def test_epoch_loss_is_the_mean_over_all_points_with_a_smaller_last_batch():
    torch.manual_seed(0)
    x, y = torch.randn(10, 3), torch.randn(10, 1)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the loss is the same in every batch
    epoch_loss = train_epoch(model, DataLoader(TensorDataset(x, y), batch_size=4), opt)
    with torch.no_grad():
        full = torch.nn.functional.mse_loss(model(x), y).item()
    assert epoch_loss == pytest.approx(full, rel=1e-6)
    # and one optimizer step per batch: 3 batches -> 3 steps
    steps = []
    opt2 = torch.optim.SGD(model.parameters(), lr=0.01)
    opt2.register_step_post_hook(lambda *a: steps.append(1))
    train_epoch(model, DataLoader(TensorDataset(x, y), batch_size=4), opt2)
    assert len(steps) == 3


def test_early_stopping_restores_the_best_weights():
    torch.manual_seed(0)
    train = LJDataset(12, 1.0, 2.5, noise=0.3, seed=1, spacing="random")
    val = LJDataset(12, 1.0, 2.5, noise=0.0, seed=2, spacing="random")
    model = LJModel(GaussianBasis(30, 0.9, 2.6), 40, 3)
    opt = make_optimizer("adam", model.parameters(), 1e-2)
    vl = DataLoader(val, batch_size=12)
    hist = fit(model, DataLoader(train, batch_size=4, shuffle=True), opt, 2000, val_loader=vl, patience=30)
    assert hist.early_stopped and hist.stopped_epoch == hist.best_epoch + 30
    assert min(hist.validation) == hist.validation[hist.best_epoch]
    assert evaluate(model, vl) == pytest.approx(hist.validation[hist.best_epoch], rel=1e-5)
    assert hist.validation[-1] > hist.validation[hist.best_epoch]


def test_optimizers_and_model_forces():
    model = LJModel(GaussianBasis(10, 0.9, 3.0), 8, 2)
    for name in ("sgd", "momentum", "nesterov", "adam", "adamw"):
        make_optimizer(name, model.parameters(), 1e-3, weight_decay=1e-4)
    with pytest.raises(ValueError):
        make_optimizer("lbfgs-ish", model.parameters(), 1e-3)
    r = torch.tensor([[1.3], [2.0]])
    h = 1e-3
    with torch.no_grad():
        fd = -(model(r + h) - model(r - h)) / (2 * h)
    torch.testing.assert_close(predict_force(model, r), fd, rtol=1e-2, atol=1e-4)


def test_every_activation_the_settings_allow_builds_a_model():
    """One ACTIVATION rule for every script (common/settings.py): each name builds an LJ model too;
    ssp is SchNet's shifted softplus, softplus(x) - log 2, zero at x = 0."""
    from common import settings
    from common.mlp import ShiftedSoftplus

    for name in settings.ACTIVATIONS:
        LJModel(GaussianBasis(5, 0.9, 3.0), 4, 1, activation=name)
    x = torch.tensor([0.0, 1.0])
    torch.testing.assert_close(ShiftedSoftplus()(x), torch.nn.functional.softplus(x) - np.log(2.0))
    assert ShiftedSoftplus()(torch.zeros(1)).item() == pytest.approx(0.0, abs=1e-7)
