"""script1_prepare_data.py: slide "Getting to molecular dynamics in 1 minute", step 1: the data.

Ethanol frames with their DFT energies and forces go into SchNetPack's database format (an SQLite
file read through ASE), the input of script2. By default the bundled, offline data set: 2,000
frames of a 500 K ethanol MD labelled with PBE/def2-SVP (data/README.md); MD17 or rMD17 on request.
This script is the lecture's step 1 (Data); script2 does steps 2-4 (model, cost function, fit).
"""

from schnet_tutorial.helpers import dataset  # isort: skip (first: it quiets SchNetPack's import)
import contextlib
import os
import shutil
import socket
from pathlib import Path
from unittest import mock
from urllib import request

import matplotlib.pyplot as plt
import numpy as np
from schnetpack.datasets import MD17, rMD17

from common.plotting import save_figure, show
from common.runs import DATABASE
from common.settings import check_writable, fail, first_line, setup, warn

# %% Settings: edit these, or override them on the command line (--source md17 --force true)
SOURCE = "bundled"  # "bundled" (offline), "md17" or "rmd17" (downloaded by schnetpack.datasets)
DATA_FILE = ""  # "" = data/ethanol_pbe.xyz.gz; or any extended XYZ file with energy (eV) and forces (eV/Å)
MD17_FILE = ""  # a copy you have instead of downloading: md17_ethanol.npz (md17), rmd17.tar.gz (rmd17)
DB_PATH = ""  # "" = schnet_tutorial/data/ethanol.db (ethanol_md17.db, ethanol_rmd17.db for MD17, rMD17)
FORCE = False  # rebuild the database even if it is up to date
setup(globals(), "script1_prepare_data")  # command-line overrides and checks

# %% 1 Data
# Read the frames and write the database SchNetPack trains from (energies in eV, forces in eV/Å,
# positions in Å). A database is rebuilt only when its source changed (path, size and time are
# recorded next to it) or FORCE is True. MD17 and rMD17 come in kcal/mol: SchNetPack records the
# units and converts them when script2 reads the database.
db_name = "ethanol.db" if SOURCE == "bundled" else f"ethanol_{SOURCE}.db"
db = Path(DB_PATH) if DB_PATH else DATABASE.with_name(db_name)
data_file = Path(DATA_FILE) if DATA_FILE else dataset.DATA_FILE
if SOURCE == "bundled" and not data_file.is_file():
    fail(f"data file {data_file} not found; set DATA_FILE to an extended XYZ file with energies and forces")
if SOURCE != "bundled" and MD17_FILE and not Path(MD17_FILE).is_file():
    fail(f"MD17_FILE {MD17_FILE} not found (md17: md17_ethanol.npz; rmd17: the rmd17.tar.gz archive)")
check_writable(db.parent)  # before the work: a read-only folder or a full disk
if SOURCE == "bundled":
    stamp = dataset.source_stamp(data_file)
else:
    stamp = {"dataset": SOURCE, **(dataset.source_stamp(MD17_FILE) if MD17_FILE else {})}


def build(db, stamp):
    """The database from the bundled file, or from MD17/rMD17 through schnetpack.datasets."""
    if SOURCE == "bundled":
        print(f"building {db} from {data_file}")
        dataset.build_database(dataset.read_frames(data_file), db)
        dataset.write_stamp(db, stamp)
        return
    print(f"building {db} from {MD17_FILE or SOURCE.upper() + ' (download)'}")  # SchNetPack downloads with
    tmp = db.with_name(
        f"{db.stem}.tmp{os.getpid()}.db"
    )  # urllib's urlretrieve: MD17_FILE replaces it by a copy
    tmp.unlink(missing_ok=True)
    copy = lambda url, filename: shutil.copyfile(MD17_FILE, filename)  # noqa: E731
    socket.setdefaulttimeout(30)  # a dead network fails after 30 s, not never
    try:
        with mock.patch.object(request, "urlretrieve", copy) if MD17_FILE else contextlib.nullcontext():
            (MD17 if SOURCE == "md17" else rMD17)(str(tmp), molecule="ethanol", batch_size=10).prepare_data()
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        what = f"read the {SOURCE.upper()} data in {MD17_FILE}" if MD17_FILE else f"download {SOURCE.upper()}"
        hint = "use SOURCE = 'bundled' (offline) or MD17_FILE = a local copy"
        fail(f"could not {what}: {first_line(exc)}; {hint}")
    tmp.replace(db)
    dataset.write_stamp(db, stamp)


old_stamp = dataset.read_stamp(db) if db.is_file() else None
if dataset.database_is_current(db, stamp) and not FORCE:
    print(f"database {db} is up to date (FORCE = True, --force true, rebuilds it)")
else:
    if old_stamp and old_stamp != stamp:  # trained models keep their split: it no longer fits
        warn(
            f"replacing {db.name}, built from {old_stamp.get('source') or old_stamp.get('dataset')}: models "
            "trained on it still run, but their test frames are no longer known (script3 says so)"
        )
    with dataset.building(db):  # one build at a time
        build(db, stamp)
# %% 5 Look at the result
# The printed summary: frames, atoms, the energy range and the mean force, with units. The figure
# shows the spread of the potential energy over the frames: about 1 eV at 500 K around a mean of
# -4210 eV. The model must learn these small differences, not the huge absolute energy.
energies, forces, n_atoms = dataset.read_energies_forces(db)
spread, mean_force = energies.max() - energies.min(), np.linalg.norm(forces, axis=1).mean()
kcal = dataset.EV_TO_KCAL_PER_MOL
print(
    f"{db.name}: {len(energies)} frames of {n_atoms} atoms; energy {energies.min():.3f} .. "
    f"{energies.max():.3f} eV (spread {spread:.3f} eV = {spread * kcal:.1f} kcal/mol); "
    f"mean |F| per atom {mean_force:.3f} eV/Å ({mean_force * kcal:.1f} kcal/mol/Å)"
)

fig, ax = plt.subplots(figsize=(6, 4))
ax.hist((energies - energies.mean()) * 1000, bins=40)
ax.set(xlabel=f"E - mean(E) (meV); mean(E) = {energies.mean():.3f} eV", ylabel="frames")
ax.set_title(f"ethanol potential energies ({len(energies)} frames)")
save_figure(fig, "schnet_energy_histogram")
show()

# %% Exercises
# Worked answers: solutions/script1_prepare_data.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) From the printed summary and the histogram: how wide is the spread of the
#    energies in kcal/mol, and how many times chemical accuracy (1 kcal/mol) is that? What fraction of
#    the total energy (-4210 eV) is 1 kcal/mol, and why does the model learn E - mean(E) instead?
# 2. (predict, then run) Run script1 a second time, then once more with ``--force true``. Before you
#    run: which of the two rebuilds the database, and what do they print? Then run and compare.
# 3. (write code) Before you compute it: on which element (H, C or O) do the forces pull hardest? Compute
#    the mean |F| per atom of each element from ``dataset.read_energies_forces`` and the atomic numbers.
# 4. (write code) Equipartition: the potential energy of a harmonic molecule at temperature T fluctuates
#    with a standard deviation of :math:`\sqrt{(3N - 6) / 2}\, k_B T`. Compute the standard deviation of the
#    frames' energies and the temperature it implies. Is it the 500 K of the MD the frames came from?
