"""Many small trainings at once, for the sweeps of lj_4 (learning curve) and lj_5 (bias-variance).

A learning curve or a bias-variance plot needs the same small network trained many times: on different
random training sets, from different initial weights, with different L2 strengths. One at a time, most of
the time goes into Python overhead, not arithmetic. ``train_many`` trains M copies of one architecture
together: their parameters are stacked, ``torch.func.vmap`` evaluates all M networks in one call, and one
optimizer steps on the stacked parameters with the sum of the M costs. SGD, momentum and Adam act element
by element, and the gradient of the sum with respect to model k's parameters is the gradient of model k's
own cost, so this is exactly M independent full-batch trainings (tests/test_lj_4_to_7.py checks it against
``common.training.train_epoch``), only many times faster.

Cost of model k: MSE_k + (l2_k / 2) * sum of its squared parameters. Its gradient adds l2_k * theta, which
is what ``weight_decay=l2_k`` does in torch.optim.SGD and Adam (slide "Bias variance tradeoff": L2).
Full batch: each step uses all of a model's training points (slide "Find: gradient descent").
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .training import make_optimizer

ELEMENTWISE = ("sgd", "momentum", "nesterov", "adam")  # optimizers for which stacking is exact


def _stack_sets(r, energy, n_models):
    """Training sets (one shared pair, or one pair per model of any sizes) -> padded (M, N, 1) + mask."""
    if isinstance(r, torch.Tensor):
        r, energy = [r] * n_models, [energy] * n_models
    if len(r) != n_models or len(energy) != n_models:
        raise ValueError(f"need one training set per model: {n_models} models, {len(r)} sets")
    n_max = max(len(x) for x in r)
    r_pad = torch.ones(n_models, n_max, 1)  # padding: any valid distance, masked out of the cost
    e_pad = torch.zeros(n_models, n_max, 1)
    mask = torch.zeros(n_models, n_max, 1)
    for k, (x, y) in enumerate(zip(r, energy)):
        r_pad[k, : len(x)], e_pad[k, : len(x)], mask[k, : len(x)] = x, y, 1.0
    return r_pad, e_pad, mask


def train_many(
    models: list[nn.Module], r, energy, epochs: int, lr: float, optimizer: str = "adam", l2=0.0
) -> np.ndarray:
    """Train ``models`` (same architecture, own initial weights) in place, full batch, all at once.

    r, energy: tensors of shape (N, 1), the same training set for every model, or lists with one
        tensor per model (sizes may differ).
    l2: L2 strength, one number for all models or one per model.
    Returns the final training MSE of each model (without the L2 term), shape (M,).
    """
    if optimizer not in ELEMENTWISE:
        raise ValueError(f"optimizer must be one of {', '.join(ELEMENTWISE)}, got {optimizer!r}")
    n_models = len(models)
    r_pad, e_pad, mask = _stack_sets(r, energy, n_models)
    n_points = mask.sum(dim=(1, 2))
    l2 = torch.as_tensor(l2, dtype=torch.float32).expand(n_models)
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")  # the architecture without storage

    def one_model(p, b, x):
        return functional_call(skeleton, (p, b), (x,))

    all_models = vmap(one_model)

    def mse():
        return (mask * (all_models(params, buffers, r_pad) - e_pad) ** 2).sum(dim=(1, 2)) / n_points

    opt = make_optimizer(optimizer, list(params.values()), lr)
    for _ in range(epochs):
        opt.zero_grad()
        cost = mse()
        if l2.any():
            squares = sum((p**2).flatten(1).sum(dim=1) for p in params.values())
            cost = cost + 0.5 * l2 * squares
        cost.sum().backward()
        opt.step()
    with torch.no_grad():
        final = mse()
        for k, model in enumerate(models):  # copy the trained weights back into the ordinary modules
            for name, p in model.named_parameters():
                p.copy_(params[name][k])
    return final.numpy()


@torch.no_grad()
def mse_of(models: list[nn.Module], r: torch.Tensor, energy: torch.Tensor) -> np.ndarray:
    """MSE of each model on the points (r, energy) of shape (N, 1); returns shape (M,)."""
    out = []
    for model in models:
        model.eval()
        out.append(float(((model(r) - energy) ** 2).mean()))
    return np.array(out)


@torch.no_grad()
def predictions(models: list[nn.Module], r: torch.Tensor) -> np.ndarray:
    """Predictions of each model at r of shape (N, 1); returns shape (M, N)."""
    out = []
    for model in models:
        model.eval()
        out.append(model(r)[:, 0].numpy())
    return np.array(out)
