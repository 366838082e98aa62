"""script1_prepare_data.py: slide "Getting to molecular dynamics in 1 minute", step 1: the data.

Builds SchNetPack's database (ASEAtomsData: an SQLite file read through ASE) of ethanol frames with
their energies (eV) and forces (eV/Å), from
  * the bundled file data/ethanol_pbe.xyz.gz (default, works offline): 2,000 frames of a 500 K ethanol
    MD, labelled by this project with PBE/def2-SVP (see data/README.md), or
  * MD17 / rMD17 (SOURCE = "md17" or "rmd17"), downloaded through schnetpack.datasets (needs
    internet). MD17_FILE points at a copy you already have instead: md17_ethanol.npz for MD17, the
    rmd17.tar.gz archive for rMD17. Their energies are in kcal/mol; SchNetPack converts units when
    script2 reads the database.
An up-to-date database is reused (its source file's path, size and time are recorded next to it);
FORCE = True (or --force true) rebuilds it.

What to look for: the printed summary (frames, atoms, energy range, mean |F|, with units) and
figures/schnet_energy_histogram.png: the distribution of the potential energy of the frames (a thermal
spread of about 1 eV around the mean at 500 K: the model must learn energy differences of this size,
not the huge absolute energy of -4210 eV).
"""

# %% Settings (edit, or override on the command line: --source md17 --force true)
SOURCE = "bundled"    # "bundled", "md17" or "rmd17"
DATA_FILE = ""        # "" = data/ethanol_pbe.xyz.gz; or any extended XYZ with energy (eV) and forces (eV/Å)
MD17_FILE = ""        # a local copy instead of downloading: md17_ethanol.npz (md17) or rmd17.tar.gz (rmd17)
DB_PATH = ""          # "" = data/ethanol.db (data/ethanol_md17.db, data/ethanol_rmd17.db for MD17/rMD17)
FORCE = False         # rebuild the database even if it is up to date
FIGURES_DIR = ""      # "" = figures/
QUICK = {}

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schnet_common as sc  # noqa: E402  (also makes common/ importable)
from common import cli  # noqa: E402

cli.apply_overrides(globals(), quick=QUICK)
cli.check_choice("SOURCE", SOURCE, ["bundled", "md17", "rmd17"])

import numpy as np  # noqa: E402


def database_path() -> Path:
    if DB_PATH:
        return Path(DB_PATH)
    return sc.DB_PATH if SOURCE == "bundled" else sc.DB_PATH.with_name(f"ethanol_{SOURCE}.db")


def build_from_md17(db: Path) -> None:
    """MD17 or rMD17 ethanol through schnetpack.datasets (download, or MD17_FILE)."""
    import contextlib
    import shutil
    import socket
    from unittest import mock
    from urllib import request
    from urllib.error import URLError

    from schnetpack.datasets import MD17, rMD17

    local = Path(MD17_FILE) if MD17_FILE else None
    tmp = db.with_name(db.stem + ".tmp.db")
    tmp.unlink(missing_ok=True)
    module = (MD17 if SOURCE == "md17" else rMD17)(str(tmp), molecule="ethanol", batch_size=10)
    # SchNetPack downloads with urllib.request.urlretrieve(url, file): with MD17_FILE the "download"
    # copies the local file instead; without it, a dead network fails after 30 s, not never.
    if local is not None:
        fetch = mock.patch.object(request, "urlretrieve",
                                  lambda url, filename: shutil.copyfile(local, filename))
    else:
        fetch = contextlib.nullcontext()
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        with fetch:
            module.prepare_data()
    except (URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        if local is not None:
            raise sc.TutorialError(f"could not read the {SOURCE.upper()} data in {local}: "
                                   f"{sc.first_line(exc)}") from None
        raise sc.TutorialError(f"could not download {SOURCE.upper()} ({sc.first_line(exc)}): no "
                               "internet? Use SOURCE = 'bundled' (the default, offline) or "
                               "MD17_FILE = a local copy") from None
    except Exception as exc:  # a file in the wrong format
        tmp.unlink(missing_ok=True)
        raise sc.TutorialError(f"could not read the {SOURCE.upper()} data "
                               f"({type(exc).__name__}: {sc.first_line(exc)})") from None
    finally:
        socket.setdefaulttimeout(old_timeout)
    tmp.replace(db)


def summary(db: Path) -> None:
    import matplotlib.pyplot as plt

    from common.plotting import save_figure, show

    e, f, n_atoms = sc.read_energies_forces(db)
    spread = e.max() - e.min()
    print(f"{db.name}: {len(e)} frames of {n_atoms} atoms; energy {e.min():.3f} .. {e.max():.3f} eV "
          f"(spread {spread:.3f} eV = {spread * sc.EV_TO_KCAL_PER_MOL:.1f} kcal/mol); "
          f"mean |F| per atom {np.linalg.norm(f, axis=1).mean():.3f} eV/Å "
          f"({np.linalg.norm(f, axis=1).mean() * sc.EV_TO_KCAL_PER_MOL:.1f} kcal/mol/Å)")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist((e - e.mean()) * 1000, bins=40)
    ax.set(xlabel=f"E - mean(E) (meV); mean(E) = {e.mean():.3f} eV", ylabel="frames",
           title=f"ethanol potential energies ({len(e)} frames)")
    save_figure(fig, "schnet_energy_histogram", FIGURES_DIR or None)
    show()


def main() -> None:
    db = database_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    if SOURCE == "bundled":
        data_file = Path(DATA_FILE) if DATA_FILE else sc.DATA_FILE
        if not data_file.is_file():
            raise sc.TutorialError(f"data file {data_file} not found; set DATA_FILE (--data-file) to "
                                   "an extended XYZ file with energies (eV) and forces (eV/Å)")
        stamp = sc.source_stamp(data_file)
    else:
        if MD17_FILE and not Path(MD17_FILE).is_file():
            raise sc.TutorialError(f"MD17_FILE {MD17_FILE} not found (md17: md17_ethanol.npz; "
                                   "rmd17: the rmd17.tar.gz archive)")
        stamp = {"dataset": SOURCE, **(sc.source_stamp(MD17_FILE) if MD17_FILE else {})}
    if sc.database_is_current(db, stamp) and not FORCE:
        print(f"database {db} is up to date (FORCE = True, --force true, rebuilds it)")
    else:
        print(f"building {db} from {stamp.get('source', SOURCE.upper() + ' (download)')}")
        if SOURCE == "bundled":
            sc.build_database(sc.read_frames(data_file), db)
        else:
            build_from_md17(db)
        sc.write_stamp(db, stamp)
    summary(db)


if __name__ == "__main__":
    try:
        main()
    except sc.TutorialError as err:
        cli.fail(str(err))
