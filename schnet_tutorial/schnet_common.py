"""Shared pieces of the SchNet tutorial scripts: folders, units, one-line errors."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DATA_FILE = HERE / "data" / "ethanol_pbe.xyz.gz"   # bundled PBE/def2-SVP data, energy eV, forces eV/Å
DB_PATH = HERE / "data" / "ethanol.db"              # SchNetPack database built by script1
MODELS_DIR = HERE / "models"
FIGURES_DIR = REPO_ROOT / "figures"
RUNS_DIR = REPO_ROOT / "runs"
EV_TO_KCAL_PER_MOL = 23.060548  # 1 eV in kcal/mol

# SchNetPack's import uses torch.jit.script, which PyTorch now flags as deprecated: not our concern
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
sys.path.insert(0, str(REPO_ROOT))  # common/ (command-line overrides, plotting)


class TutorialError(Exception):
    """A problem the user can fix: reported as one line, non-zero exit."""
