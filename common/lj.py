"""Slide "1. Data": the Lennard-Jones pair potential as exact, noise-free training data.

Reduced units: sigma = epsilon = 1, so r is in units of sigma and E in units of epsilon.
    E(r) = 4 (r^-12 - r^-6),     F(r) = -dE/dr = 24 (2 r^-13 - r^-7)
The minimum is E = -1 at r = 2^(1/6) = 1.1225.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


def lj_energy(r):
    """Lennard-Jones energy (epsilon) at distance r (sigma); NumPy array or torch tensor."""
    return 4.0 * (r**-12 - r**-6)


def lj_force(r):
    """Lennard-Jones force -dE/dr (epsilon/sigma) at distance r (sigma)."""
    return 24.0 * (2.0 * r**-13 - r**-7)


class LJDataset(Dataset):
    """Points (r, E(r)) of the Lennard-Jones potential.

    n_points  number of points
    r_min, r_max  the range of distances (sigma)
    noise     standard deviation of Gaussian noise added to E (epsilon); 0 = exact data
    seed      seeds the noise and, with spacing="random", the positions
    spacing   "even" (np.linspace) or "random" (uniform)
    """

    def __init__(
        self,
        n_points: int,
        r_min: float,
        r_max: float,
        noise: float = 0.0,
        seed: int = 0,
        spacing: str = "even",
    ):
        if n_points < 1:
            raise ValueError(f"n_points must be >= 1, got {n_points}")
        if not 0 < r_min < r_max:
            raise ValueError(f"need 0 < r_min < r_max, got {r_min}, {r_max}")
        rng = np.random.default_rng(seed)
        if spacing == "even":
            r = np.linspace(r_min, r_max, n_points)
        elif spacing == "random":
            r = np.sort(rng.uniform(r_min, r_max, n_points))
        else:
            raise ValueError(f"spacing must be 'even' or 'random', got {spacing!r}")
        e = lj_energy(r) + (noise * rng.standard_normal(n_points) if noise > 0 else 0.0)
        self.r = torch.tensor(r, dtype=torch.float32).unsqueeze(1)  # shape (n, 1)
        self.energy = torch.tensor(e, dtype=torch.float32).unsqueeze(1)  # shape (n, 1)

    def __len__(self) -> int:
        return len(self.r)

    def __getitem__(self, i):
        return self.r[i], self.energy[i]
