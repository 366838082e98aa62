"""script1_prepare_data.py: slide "Getting to molecular dynamics in 1 minute", step 1: the data.

Builds SchNetPack's database (ASEAtomsData, SQLite via ASE) of ethanol frames with energies (eV) and
forces (eV/Å) from
  * the bundled file data/ethanol_pbe.xyz.gz (default, works offline): 2,000 frames of a 500 K ethanol
    MD, labelled by this project with PBE/def2-SVP (see data/README.md), or
  * MD17 / rMD17 (SOURCE = "md17" or "rmd17"), downloaded through schnetpack.datasets (needs internet;
    MD17_FILE can point to a local md17_ethanol.npz instead). Their energies are in kcal/mol; SchNetPack
    converts units when script2 loads the database.
An up-to-date database is reused; FORCE = True (or --force true) rebuilds it.

What to look for: the printed summary (frames, atoms, energy range, mean |F|) and
figures/schnet_energy_histogram.png: the distribution of the potential energy of the frames (a thermal
spread of about 1 eV around the mean at 500 K).
"""

# %% Settings (edit, or override on the command line: --source md17 --force true)
SOURCE = "bundled"    # "bundled", "md17" or "rmd17"
DATA_FILE = ""        # "" = data/ethanol_pbe.xyz.gz; or any extended XYZ with energy (eV) and forces (eV/Å)
MD17_FILE = ""        # a local md17_ethanol.npz (MD17's format) instead of downloading
DB_PATH = ""          # "" = data/ethanol.db (or data/ethanol_md17.db, data/ethanol_rmd17.db)
FORCE = False         # rebuild the database even if it is up to date
QUICK = {}

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schnet_common as sc  # noqa: E402  (also makes common/ importable)
from common import cli  # noqa: E402

cli.apply_overrides(globals(), quick=QUICK)
cli.check_choice("SOURCE", SOURCE, ["bundled", "md17", "rmd17"])

import numpy as np  # noqa: E402


def db_path() -> Path:
    if DB_PATH:
        return Path(DB_PATH)
    return sc.DB_PATH if SOURCE == "bundled" else sc.DB_PATH.with_name(f"ethanol_{SOURCE}.db")


def source_stamp(path: Path) -> dict:
    st = path.stat()
    return {"source": str(path.resolve()), "size": st.st_size, "mtime": st.st_mtime}


def build_from_xyz(data_file: Path, db: Path) -> None:
    from schnetpack.data import ASEAtomsData

    from md_tools import read_structures  # ase.io.read, fast for .gz files

    if not data_file.is_file():
        raise sc.TutorialError(f"data file {data_file} not found; set DATA_FILE to an extended XYZ file")
    try:
        frames = read_structures(data_file)
        props = [{"energy": np.array([a.get_potential_energy()]), "forces": a.get_forces()}
                 for a in frames]
    except Exception as exc:  # corrupt or unlabelled file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise sc.TutorialError(f"cannot read energies and forces from {data_file}: {reason}")
    tmp = db.with_name(db.stem + ".tmp.db")
    tmp.unlink(missing_ok=True)
    data = ASEAtomsData.create(str(tmp), distance_unit="Ang",
                               property_unit_dict={"energy": "eV", "forces": "eV/Ang"})
    data.add_systems(props, frames)
    tmp.replace(db)


def build_from_md17(db: Path) -> None:
    from urllib.error import URLError

    from schnetpack.datasets import MD17, rMD17

    cls = MD17 if SOURCE == "md17" else rMD17
    tmp = db.with_name(db.stem + ".tmp.db")
    tmp.unlink(missing_ok=True)
    module = cls(str(tmp), molecule="ethanol", batch_size=10)
    if MD17_FILE:
        npz = Path(MD17_FILE)
        if SOURCE != "md17" or not npz.is_file():
            raise sc.TutorialError(f"MD17_FILE {npz} not found (only for SOURCE = 'md17')")
        module.datasets_dict = dict(module.datasets_dict, ethanol=npz.name)
        module.download_url = npz.resolve().parent.as_uri() + "/"
    try:
        module.prepare_data()
    except (URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise sc.TutorialError(f"could not download {SOURCE.upper()} ({type(exc).__name__}: no internet?); "
                               "use SOURCE = 'bundled' (the default) or MD17_FILE = a local npz")
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise sc.TutorialError(f"could not read {SOURCE.upper()} data: {str(exc).splitlines()[0]}")
    tmp.replace(db)


def read_energies_forces(db: Path):
    """Energies (eV, per frame) and forces (eV/Å, all atoms) from the database, and atoms per frame."""
    from ase.db import connect

    from schnetpack.units import convert_units

    with connect(str(db), use_lock_file=False) as conn:
        units = conn.metadata["_property_unit_dict"]
        rows = list(conn.select())
    e_scale = convert_units(units["energy"], "eV")
    f_scale = convert_units(units["forces"], "eV/Ang")
    energies = np.array([float(np.ravel(r.data["energy"])[0]) for r in rows]) * e_scale
    forces = np.concatenate([np.asarray(r.data["forces"]) for r in rows]) * f_scale
    return energies, forces, rows[0].natoms


def summary(db: Path) -> None:
    import matplotlib.pyplot as plt

    from common.plotting import save_figure, show

    e, f, n_atoms = read_energies_forces(db)
    print(f"{db.name}: {len(e)} frames of {n_atoms} atoms; energy {e.min():.3f} .. {e.max():.3f} eV "
          f"(spread {e.max() - e.min():.3f} eV = {(e.max() - e.min()) * sc.EV_TO_KCAL_PER_MOL:.1f} "
          f"kcal/mol); mean |F| per atom {np.linalg.norm(f, axis=1).mean():.3f} eV/Å")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(e - e.mean(), bins=40)
    ax.set(xlabel=f"E - mean(E) (eV), mean = {e.mean():.2f} eV", ylabel="frames",
           title=f"ethanol potential energies ({len(e)} frames)")
    save_figure(fig, "schnet_energy_histogram")
    show()


def main() -> None:
    db = db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    stamp_file = db.with_name(db.name + ".source.json")
    if SOURCE == "bundled":
        data_file = Path(DATA_FILE) if DATA_FILE else sc.DATA_FILE
        if not data_file.is_file():
            raise sc.TutorialError(f"data file {data_file} not found; set DATA_FILE to an extended XYZ file")
        stamp = source_stamp(data_file)
    else:
        stamp = {"source": SOURCE, "file": MD17_FILE}
    up_to_date = (db.is_file() and stamp_file.is_file()
                  and json.loads(stamp_file.read_text()) == stamp)
    if up_to_date and not FORCE:
        print(f"database {db} is up to date (FORCE = True rebuilds it)")
    else:
        print(f"building {db} from {stamp.get('source')}")
        if SOURCE == "bundled":
            build_from_xyz(data_file, db)
        else:
            build_from_md17(db)
        stamp_file.write_text(json.dumps(stamp))
    summary(db)


if __name__ == "__main__":
    try:
        main()
    except sc.TutorialError as err:
        cli.fail(str(err))
