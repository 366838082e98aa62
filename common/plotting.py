"""Figures: always saved as PNG under figures/, shown only when there is a screen to show them on."""

from __future__ import annotations

import math
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
    path = folder / f"{name}.png"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except OSError as err:  # read-only folder, full disk: keep the figure elsewhere and say where
        import tempfile

        from .settings import fail

        spare = Path(tempfile.mkdtemp(prefix="ml_tutorial_")) / path.name
        fig.savefig(spare, dpi=120, bbox_inches="tight")
        fail(f"cannot write {path} ({err.strerror or err}); the figure was saved as {spare} instead")
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


def plain_log_labels(axis) -> None:
    """Label a log axis with plain numbers (0.5, 1, 2, 5, 10): the decades and their 2 and 5, not
    every minor tick (matplotlib's default shows 10^0, or nothing between the decades)."""

    def label(x, _):
        if x <= 0:
            return ""
        lead = round(x / 10 ** math.floor(math.log10(x) + 1e-9))
        return f"{x:g}" if lead in (1, 2, 5) else ""

    axis.set_major_formatter(label)
    axis.set_minor_formatter(label)
