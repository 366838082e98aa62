"""Slide "2. Model: neural network": y_{i+1} = sigma(W_i y_i + b_i), output y_pred = w3 . y3 + b3.

"Use a continuously differentiable activation function": GELU (the default) gives smooth forces
-dE/dr; ReLU's kinks show up as jumps in the force.
"""

from __future__ import annotations

import math

from torch import nn

from . import settings


class ShiftedSoftplus(nn.Module):
    """ssp(x) = softplus(x) - log 2, the SchNet paper's activation: smooth, and 0 at x = 0."""

    def forward(self, x):
        return nn.functional.softplus(x) - math.log(2.0)


ACTIVATIONS = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "ssp": ShiftedSoftplus,
}
assert tuple(ACTIVATIONS) == settings.ACTIVATIONS, "common/settings.py lists the same activations"


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` neurons with an activation, then a linear output."""

    def __init__(self, n_in: int, width: int = 40, depth: int = 4, activation: str = "gelu", n_out: int = 1):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if width < 1 or depth < 1:
            raise ValueError(f"width and depth must be >= 1, got {width}, {depth}")
        layers, n = [], n_in
        for _ in range(depth):
            layers += [nn.Linear(n, width), ACTIVATIONS[activation]()]
            n = width
        layers.append(nn.Linear(n, n_out))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class LJModel(nn.Module):
    """Energy model E(r): descriptor (no trainable parameters) followed by an MLP."""

    def __init__(self, descriptor: nn.Module, width: int = 40, depth: int = 4, activation: str = "gelu"):
        super().__init__()
        self.descriptor = descriptor
        self.mlp = MLP(descriptor.size, width, depth, activation)

    def forward(self, r):
        return self.mlp(self.descriptor(r))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
