"""An MD trajectory as an animated GIF a student can read: ball-and-stick, element colours and labels.

Used by the website (gallery_tools.trajectory_gif_scraper) for script3's page; independent of the
project's own ``write_gif``. Matplotlib draws each frame (no display needed), Pillow writes the GIF:

* the molecule seen along the smallest principal axis of the first frame, tilted a little (it lies
  nearly flat on screen, atoms apart), the same view for every frame;
* atoms as circles sized by their covalent radius and coloured by element (Jmol's CPK colours, from
  ASE), labelled with their symbol, drawn back to front; bonds between atoms closer than 1.2 times
  the sum of their covalent radii, each half in its atom's colour;
* the time in fs as a counter, a legend of the elements.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

BOND_FACTOR = 1.2  # a bond: closer than 1.2 x the sum of the covalent radii
ATOM_SCALE = 0.55  # circle radius = 0.55 x covalent radius (Angstrom), leaves the bonds visible
SIZE_PX = 640  # the GIF is SIZE_PX x SIZE_PX
TILT_DEG = (35.0, 20.0)  # the view, turned about the screen's x and y axes from the flat one


def _view(positions: np.ndarray) -> np.ndarray:
    """Rotation (3x3, rows = screen x, screen y, depth): the molecule nearly flat on the screen."""
    centred = positions - positions.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=True)  # rows: largest to smallest spread
    if np.linalg.det(axes) < 0:
        axes[2] = -axes[2]
    a, b = np.radians(TILT_DEG)  # tilted a little: atoms on top of each other in the flat view part
    tilt_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    tilt_y = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return tilt_x @ tilt_y @ axes


def _bonds(numbers: np.ndarray, positions: np.ndarray) -> list[tuple[int, int]]:
    from ase.data import covalent_radii

    radii = covalent_radii[numbers]
    distance = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    limit = BOND_FACTOR * (radii[:, None] + radii[None])
    i, j = np.nonzero(np.triu(distance < limit, k=1))
    return list(zip(i.tolist(), j.tolist()))


def _text_colour(rgb) -> str:
    return "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 0.5 else "white"


def write_movie(
    traj_path, gif_path, fs_per_frame: float | None = None, max_frames: int = 100, fps: int = 12
) -> int:
    """Draw the trajectory into ``gif_path``; returns the number of frames."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from ase.data import chemical_symbols, covalent_radii
    from ase.data.colors import jmol_colors
    from ase.io import read
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle
    from PIL import Image

    images = read(str(traj_path), index=":")
    step = max(1, math.ceil(len(images) / max_frames))
    frames = list(range(0, len(images), step))
    numbers = images[0].numbers
    rotation = _view(images[0].positions)
    centre = images[0].positions.mean(axis=0)
    views = [(atoms.positions - centre) @ rotation.T for atoms in (images[k] for k in frames)]
    reach = max(np.abs(v[:, :2]).max() for v in views) + 0.8  # Angstrom from the centre
    radii = covalent_radii[numbers] * ATOM_SCALE
    colours = jmol_colors[numbers]
    elements = sorted(set(numbers.tolist()), key=lambda z: (z == 1, -z))  # C, O, ..., H last

    dpi = 100
    fig = plt.figure(figsize=(SIZE_PX / dpi, SIZE_PX / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    pictures = []
    try:
        for frame, view in zip(frames, views):
            ax.clear()
            ax.set_xlim(-reach, reach)
            ax.set_ylim(-reach, reach)
            ax.set_aspect("equal")
            ax.set_axis_off()
            order = np.argsort(view[:, 2])  # back (small depth) first
            rank = {atom: k for k, atom in enumerate(order)}
            for i, j in _bonds(numbers, images[frame].positions):
                middle = (view[i] + view[j]) / 2
                for atom in (i, j):  # each half of the bond in its atom's colour, under its atom
                    ax.plot(
                        [view[atom, 0], middle[0]],
                        [view[atom, 1], middle[1]],
                        color=colours[atom],
                        lw=9,
                        solid_capstyle="butt",
                        zorder=2 * rank[atom] + 1,
                    )
                    ax.plot(
                        [view[atom, 0], middle[0]],
                        [view[atom, 1], middle[1]],
                        color="0.25",
                        lw=11,
                        solid_capstyle="butt",
                        zorder=2 * rank[atom] + 0.5,
                    )
            for atom in order:
                x, y = view[atom, 0], view[atom, 1]
                ax.add_patch(
                    Circle(
                        (x, y),
                        radii[atom],
                        facecolor=colours[atom],
                        edgecolor="0.2",
                        lw=1.2,
                        zorder=2 * rank[atom] + 2,
                    )
                )
                ax.text(
                    x,
                    y,
                    chemical_symbols[numbers[atom]],
                    ha="center",
                    va="center",
                    fontsize=13 if numbers[atom] > 1 else 10,
                    fontweight="bold",
                    color=_text_colour(colours[atom]),
                    zorder=2 * rank[atom] + 2.5,
                )
            if fs_per_frame:
                counter = f"t = {frame * fs_per_frame:.1f} fs"
            else:
                counter = f"frame {frame + 1} / {len(images)}"
            ax.text(0.03, 0.97, counter, transform=ax.transAxes, ha="left", va="top", fontsize=20)
            ax.text(
                0.97,
                0.97,
                f"{images[0].get_chemical_formula()}: MD trajectory",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=12,
                color="0.3",
            )
            handles = [
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    markersize=14,
                    markerfacecolor=jmol_colors[z],
                    markeredgecolor="0.2",
                )
                for z in elements
            ]
            ax.legend(
                handles,
                [chemical_symbols[z] for z in elements],
                loc="lower right",
                fontsize=13,
                frameon=True,
                title="element",
                title_fontsize=11,
            )
            fig.canvas.draw()
            rgba = np.asarray(fig.canvas.buffer_rgba())
            pictures.append(Image.fromarray(rgba[..., :3].copy()))
    finally:
        plt.close(fig)
    Path(gif_path).parent.mkdir(parents=True, exist_ok=True)
    palette = pictures[0].quantize(colors=128)  # one palette for every frame: no flicker
    frames_p = [picture.quantize(palette=palette, dither=Image.Dither.NONE) for picture in pictures]
    frames_p[0].save(
        str(gif_path),
        save_all=True,
        append_images=frames_p[1:],
        duration=int(1000 / fps),
        loop=0,
        optimize=True,
    )
    return len(frames_p)
