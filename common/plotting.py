"""Figures: always saved as PNG under figures/, shown only when there is a screen to show them on."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from .paths import FIGURES_DIR


def has_display() -> bool:
    """False when matplotlib draws off-screen (Agg, e.g. no display or MPLBACKEND=Agg)."""
    backend = matplotlib.get_backend().lower()
    return not any(name in backend for name in ("agg", "pdf", "svg", "ps", "cairo", "template"))


def save_figure(fig, name: str, folder: Path | None = None) -> Path:
    """Save ``fig`` as <folder>/<name>.png (default folder: figures/) and return the path."""
    folder = Path(folder) if folder else FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"figure saved: {path}")
    return path


def show() -> None:
    """plt.show() without blocking a script run headless."""
    import matplotlib.pyplot as plt

    if has_display():
        plt.show(block=False)
        plt.pause(0.1)
