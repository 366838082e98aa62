"""Slide "2. Model: descriptor": turn a distance into a vector the network can use.

One-hot encoding: the distance range is cut into bins; x is encoded as 1 in its bin, 0 elsewhere
(categories: the network sees only which bin, so its fit is a staircase).
Gaussian basis (continuous data): phi_k(x) = exp(-(x - c_k)^2 / (2 width^2)) for centres c_k.
The slide's example x = 3.1 -> (0.5, 0.3, 0.01, 0, 0) is ``slide_example_basis()``: width 0.5 and
centres (2.51, 3.88, 4.62, 5.40, 6.20) give (0.4985, 0.2962, 0.0098, 0.0000, 0.0000), i.e. the slide's
numbers to two decimals. (No equally spaced centres with one width can give them: the three values
need |x - c_k| = 0.83, 1.10 and 2.15 times sqrt(2) * width, and no evenly spaced centres sit at those
distances from one x. The slide's picture is a sketch.)
"""

from __future__ import annotations

import torch
from torch import nn


class GaussianBasis(nn.Module):
    """Gaussians at ``centres`` (or n equally spaced between start and stop) of one width.

    The default width is the spacing of the centres, so neighbouring Gaussians overlap.
    """

    def __init__(
        self,
        n: int | None = None,
        start: float | None = None,
        stop: float | None = None,
        width: float | None = None,
        centres=None,
    ):
        super().__init__()
        if centres is None:
            if n is None or n < 1:
                raise ValueError(f"number of basis functions must be >= 1, got {n}")
            centres = torch.linspace(start, stop, n)
        centres = torch.as_tensor(centres, dtype=torch.float32)
        if width is None:
            width = float(centres[1] - centres[0]) if len(centres) > 1 else 1.0
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        self.register_buffer("centres", centres)
        self.width = float(width)

    @property
    def size(self) -> int:
        return len(self.centres)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x of shape (batch, 1) -> (batch, n)."""
        return torch.exp(-((x - self.centres) ** 2) / (2 * self.width**2))


class OneHot(nn.Module):
    """n equal bins between start and stop; values outside fall into the first or last bin."""

    def __init__(self, n: int, start: float, stop: float):
        super().__init__()
        if n < 1:
            raise ValueError(f"number of bins must be >= 1, got {n}")
        self.n, self.start, self.stop = n, float(start), float(stop)

    @property
    def size(self) -> int:
        return self.n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x of shape (batch, 1) -> (batch, n) of zeros with a single 1."""
        index = ((x[:, 0] - self.start) / (self.stop - self.start) * self.n).floor().long()
        return nn.functional.one_hot(index.clamp(0, self.n - 1), self.n).float()


SLIDE_EXAMPLE_CENTRES = (2.51, 3.88, 4.62, 5.40, 6.20)
SLIDE_EXAMPLE_WIDTH = 0.5


def slide_example_basis() -> GaussianBasis:
    """The five Gaussians of slide 4: they encode x = 3.1 as (0.5, 0.3, 0.01, 0, 0)."""
    return GaussianBasis(centres=SLIDE_EXAMPLE_CENTRES, width=SLIDE_EXAMPLE_WIDTH)


def make_descriptor(kind: str, n: int, start: float, stop: float) -> nn.Module:
    """'gaussian' or 'one_hot' with n functions/bins over [start, stop]."""
    if kind == "gaussian":
        return GaussianBasis(n, start, stop)
    if kind == "one_hot":
        return OneHot(n, start, stop)
    raise ValueError(f"descriptor must be 'gaussian' or 'one_hot', got {kind!r}")
