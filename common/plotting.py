"""Figures: always saved as PNG under figures/, shown only when there is a screen to show them on."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

from .runs import FIGURES_DIR

# matplotlib's backends that draw to files only (MPLBACKEND=Agg, or no display found)
FILE_ONLY_BACKENDS = ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template")


def has_display() -> bool:
    """True for an on-screen backend (QtAgg, TkAgg, macosx, Spyder's inline plots), False headless."""
    return matplotlib.get_backend().lower() not in FILE_ONLY_BACKENDS


def save_figure(fig, name: str, folder: Path | None = None) -> Path:
    """Save ``fig`` as <folder>/<name>.png (default folder: figures/) and return the path."""
    folder = Path(folder) if folder else FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"figure saved: {path}")
    return path


def show() -> None:
    """Show the figures when there is a display; headless do nothing (they are saved anyway).

    In Spyder or IPython this returns at once (the figures go to the Plots pane or stay in their
    windows). Run from a terminal with a display, it waits until you close the windows, as
    matplotlib always does; the scripts call it last.
    """
    import matplotlib.pyplot as plt

    if has_display():
        in_ipython = "IPython" in sys.modules or hasattr(sys, "ps1") or matplotlib.is_interactive()
        plt.show(block=not in_ipython)
