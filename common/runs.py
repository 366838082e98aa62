"""Slide "A model to play with": one new TensorBoard folder per run, named after its settings."""

from __future__ import annotations

from pathlib import Path


def new_run_dir(base: Path, name: str) -> Path:
    """Create and return base/name, or base/name_2, name_3, ... if taken: never overwrite a run."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    path, k = base / name, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            k += 1
            path = base / f"{name}_{k}"


def settings_name(**settings) -> str:
    """'lr=0.001_width=40' style name from keyword settings (characters safe on every OS)."""
    parts = []
    for key, value in settings.items():
        text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={text}")
    return "_".join(parts).replace("/", "-").replace(":", "-")
