"""The ethanol data of the SchNet lessons: files, the SchNetPack database, model inputs and the split.

read_frames, build_database         an extended XYZ file -> a SchNetPack database (script1)
source_stamp, database_is_current, write_stamp, database_fingerprint
                                    which source a database was built from, and what it holds
count_frames, read_energies_forces  what a database holds (eV, eV/Å)
molecule_inputs, load_inputs        SchNetPack's input dictionaries, built once
split                               the one split into training, validation and test frames
error_table                         a model's test errors against the labels, in kcal/mol and kcal/mol/Å
"""

from schnet_tutorial.helpers import quiet  # noqa: F401  isort: skip (first: quiets SchNetPack's import)
import contextlib
import gzip
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import schnetpack as spk
import schnetpack.properties as P
import schnetpack.transform as trn
import torch
from ase.db import connect
from schnetpack.units import convert_units

from common.runs import SCHNET_DATA_DIR
from common.settings import fail, first_line, say_number

DATA_FILE = SCHNET_DATA_DIR / "ethanol_pbe.xyz.gz"  # the bundled PBE/def2-SVP frames (eV, eV/Å)
EV_TO_KCAL_PER_MOL = 23.060548
# What the field reached on ethanol: test force MAE (meV/Å) after training on 1,000 frames of rMD17
# (the same PBE/def2-SVP level, other frames), Batatia et al., NeurIPS 2022, table 1: MACE and NequIP
# trained for hours to days on a GPU, FCHL19 (kernel) and linear ACE fitted on CPUs; PaiNN on the
# original MD17 (Schütt et al., ICML 2021; other, noisier labels). Figures draw them as reference lines.
PUBLISHED_FORCE_MAE_MEV_A = {
    "MACE": 2.1,
    "NequIP (l=3)": 2.8,
    "FCHL19": 6.2,
    "ACE (linear)": 7.3,
    "PaiNN (MD17)": 9.7,
}


def read_frames(path, index=":"):
    """ASE Atoms of an extended XYZ file (or any file ASE reads; .gz read in one go: ASE seeks slowly)."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        fail(f"file {path} not found")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                frames = read(io.StringIO(fh.read()), index=index, format="extxyz")
        else:
            frames = read(str(path), index=index)
    except Exception as exc:  # ASE raises many kinds for a corrupt file
        fail(f"cannot read {path}: {first_line(exc)}")
    return frames


def build_database(frames, db_path) -> None:
    """A SchNetPack database (ASEAtomsData, SQLite) of frames with energy (eV) and forces (eV/Å).

    Written to a temporary file and renamed at the end: an interrupted build leaves nothing behind.
    """
    try:
        props = [{"energy": np.array([a.get_potential_energy()]), "forces": a.get_forces()} for a in frames]
    except Exception as exc:
        fail(f"the frames need an energy (eV) and forces (eV/Å): {first_line(exc)}")
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f"{db_path.stem}.tmp{os.getpid()}.db")  # this run's own
    tmp.unlink(missing_ok=True)
    data = spk.data.ASEAtomsData.create(
        str(tmp), distance_unit="Ang", property_unit_dict={"energy": "eV", "forces": "eV/Ang"}
    )
    try:
        with data.conn:  # one SQLite transaction for all frames (one per frame is 5x slower)
            data.add_systems(props, [a.copy() for a in frames])
        del data
        tmp.replace(db_path)
    except Exception as exc:  # a full disk (SQLite: "database or disk is full"), a folder made read-only
        tmp.unlink(missing_ok=True)
        fail(f"cannot write {db_path} ({first_line(exc)}): free some disk space or set DB_PATH elsewhere")


@contextlib.contextmanager
def building(db_path):
    """Only one script1 builds a database at a time: a lock file beside it holds the builder's
    process id; a second run stops with one line (a lock of a process that is gone is taken over)."""
    lock = Path(db_path).with_name(Path(db_path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            with open(lock, "x", encoding="utf-8") as fh:
                fh.write(str(os.getpid()))
            break
        except FileExistsError:
            if process_alive(lock):
                fail(f"another script1 is building {db_path} right now: wait until it has finished")
            lock.unlink(missing_ok=True)  # left by a run that was killed
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def process_alive(lock: Path) -> bool:
    """True if the process whose id ``lock`` holds runs (and is not this one)."""
    try:
        pid = int(lock.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
        return pid != os.getpid()
    except (OSError, ValueError):
        return False


def read_stamp(db_path) -> dict | None:
    """The source a database was built from (see source_stamp), or None."""
    try:
        return json.loads(_stamp_file(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _stamp_file(db_path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".source.json")


def database_is_current(db_path, stamp: dict) -> bool:
    """True if ``db_path`` was built from the source ``stamp`` describes (path, size, time) and opens."""
    try:
        same = json.loads(_stamp_file(db_path).read_text(encoding="utf-8")) == stamp
        return same and connect(str(db_path), type="db", use_lock_file=False).count() > 0
    except Exception:  # no stamp, or a truncated / corrupt database: rebuild
        return False


def write_stamp(db_path, stamp: dict) -> None:
    _stamp_file(db_path).write_text(json.dumps(stamp), encoding="utf-8")


def source_stamp(path) -> dict:
    st = Path(path).stat()
    return {"source": str(Path(path).resolve()), "size": st.st_size, "mtime": st.st_mtime}


def _open_database(db_path):
    """(connection, unit factors to eV and Å) of a SchNetPack database; one-line error if it is not one."""
    db_path = Path(db_path)
    if db_path.suffix != ".db" and db_path.is_file():
        fail(
            f"{db_path} is not a SchNetPack database (.db): to train on a data file, build the database "
            f"with script1_prepare_data.py --data-file {db_path}, then use its .db (DB_PATH)"
        )
    if not db_path.is_file():
        fail(f"database {db_path} not found: run script1_prepare_data.py first")
    try:
        conn = connect(str(db_path), type="db", use_lock_file=False)
        meta, count = conn.metadata, conn.count()
    except Exception as exc:
        fail(
            f"cannot read database {db_path} ({first_line(exc)}): rebuild it with "
            "script1_prepare_data.py --force true"
        )
    if count == 0 or "_property_unit_dict" not in meta:
        what = "is empty" if count == 0 else "has no units: it was not made by script1"
        fail(f"database {db_path} {what}: rebuild it with script1_prepare_data.py --force true")
    units = meta["_property_unit_dict"]
    scale = {
        "energy": convert_units(units["energy"], "eV"),
        "forces": convert_units(units["forces"], "eV/Ang"),
        "R": convert_units(meta.get("_distance_unit", "Ang"), "Ang"),
    }
    return conn, scale


def count_frames(db_path) -> int:
    return _open_database(db_path)[0].count()


def read_energies_forces(db_path):
    """Energies (eV, one per frame), forces (eV/Å, all atoms stacked) and the atoms per frame."""
    conn, s = _open_database(db_path)
    rows = list(conn.select())
    energies = np.array([float(np.ravel(r.data["energy"])[0]) for r in rows]) * s["energy"]
    forces = np.concatenate([np.asarray(r.data["forces"]) for r in rows]) * s["forces"]
    return energies, forces, rows[0].natoms


def molecule_inputs(numbers, positions, cutoff=None) -> dict:
    """SchNetPack's input dictionary of one molecule (no periodic cell), float64.

    The neighbour list holds every ordered atom pair (i, j), i != j, closer than ``cutoff``
    (every pair when ``cutoff`` is None), in the order SchNetPack's ASENeighborList gives.
    """
    z = torch.tensor(np.array(numbers), dtype=torch.long)
    pos = torch.as_tensor(np.asarray(positions, dtype=np.float64))
    pair = ~torch.eye(len(z), dtype=torch.bool)
    if cutoff is not None:
        pair &= torch.cdist(pos, pos) < cutoff
    i, j = torch.nonzero(pair, as_tuple=True)
    return {
        P.Z: z,
        P.R: pos,
        P.n_atoms: torch.tensor([len(z)]),
        P.idx_m: torch.zeros(len(z), dtype=torch.long),
        P.cell: torch.zeros(1, 3, 3, dtype=torch.float64),
        P.pbc: torch.zeros(3, dtype=torch.bool),
        P.idx_i: i,
        P.idx_j: j,
        P.offsets: torch.zeros(len(i), 3, dtype=torch.float64),
    }


def load_inputs(db_path, cutoff: float, *index_sets):
    """The model inputs of the frames in each of ``index_sets``, with energy (eV) and forces (eV/Å).

    The same dictionaries as ``spk.data.ASEAtomsData(db, transforms=[trn.ASENeighborList(cutoff)])[i]``
    (a test checks it), made 4x faster: all rows in one query, and for a molecule the neighbour list
    is every pair closer than the cutoff. Periodic frames use SchNetPack's ASENeighborList.
    Returns one list of dictionaries (float64) per index set.
    """
    conn, s = _open_database(db_path)
    rows = list(conn.select())  # one query for all frames: much faster than one per frame
    result = []
    for indices in index_sets:
        inputs = []
        for k in indices:
            row = rows[int(k)]
            d = molecule_inputs(row.numbers, row.positions * s["R"], cutoff)
            del d[P.idx_m]  # the data loader adds it when it makes a batch
            if row.pbc.any():
                d.update({P.cell: torch.as_tensor(row.cell[None] * s["R"]), P.pbc: torch.as_tensor(row.pbc)})
                d = trn.ASENeighborList(cutoff=cutoff)(d)
            d[P.idx] = torch.tensor([int(k)])
            d["energy"] = torch.tensor(
                [float(np.ravel(row.data["energy"])[0]) * s["energy"]], dtype=torch.float64
            )
            d["forces"] = torch.as_tensor(np.asarray(row.data["forces"]) * s["forces"])
            inputs.append(d)
        result.append(inputs)
    return result


def split(n_frames: int, n_train: int, n_val: int, n_test: int = 0, seed: int = 0, draw: int = 0):
    """Training, validation and test frame indices (each sorted): the one split of every lesson.

    One shuffle of all frames (``seed``) gives the test frames first, then the validation frames;
    the rest is the pool. The training frames are the first ``n_train`` of the pool in its shuffle
    number ``draw``: trainings of one ``seed`` share their validation and test frames (all measured
    with the same ruler), and the training sets of one draw are nested (its 25 frames are part of
    its 50), as when a data set grows. ``n_test = 0``: the test frames are all pool frames not used
    for training.
    """
    if n_train + n_val + n_test > n_frames or n_train + n_val >= n_frames:
        (train, a), (val, b), (test, c) = (  # in the running script's own settings, where it has them
            say_number(n_train, "training frames", "N_TRAIN", "TRAIN_SIZES", "N_LADDER"),
            say_number(n_val, "validation frames", "N_VAL"),
            say_number(n_test, "test frames", "N_TEST"),
        )
        lower = " or ".join(name for name, n in ((a, n_train), (b, n_val), (c, n_test)) if name and n)
        if c and not n_test and not a:  # the training frames are what the others leave: none for the test
            lower = f"set {c} > 0"
        else:
            lower = f"lower {lower or 'them'}"
        fail(
            f"{train} + {val} + {test} needs more than the {n_frames} frames of the database (and at "
            f"least one test frame); {lower}"
        )
    perm = np.random.default_rng(seed).permutation(n_frames)
    test, val, pool = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    train = np.random.default_rng([seed, draw]).permutation(pool)[:n_train]
    if not n_test:
        test = np.setdiff1d(pool, train)
    return np.sort(train), np.sort(val), np.sort(test)


def database_fingerprint(db_path) -> str:
    """A short hash of what a database holds (atoms, positions, energies, forces, in order): a model's
    split indexes the frames of the database it was trained on, and of no other (script3 checks it).
    Read straight from ASE's SQLite table: milliseconds, where reading every row through ASE takes a
    second."""
    _open_database(db_path)  # one-line errors for a missing or foreign file
    digest = hashlib.sha1()
    with contextlib.closing(sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)) as conn:
        for row in conn.execute("SELECT numbers, positions, data FROM systems ORDER BY id"):
            for value in row:
                digest.update(value if isinstance(value, bytes) else str(value).encode())
    return digest.hexdigest()[:16]


def error_table(e_pred, f_pred, e_ref, f_ref) -> dict:
    """Test errors of energies (eV) and forces (eV/Å) against the reference, in kcal/mol and kcal/mol/Å,
    and the guess "no force at all" (any model: script2's pipeline, script8's SO3LR)."""
    e_err, f_err, kcal = e_pred - e_ref, f_pred - f_ref, EV_TO_KCAL_PER_MOL
    return {
        "energy_mae_kcal_mol": float(np.abs(e_err).mean() * kcal),
        "energy_rmse_kcal_mol": float(np.sqrt((e_err**2).mean()) * kcal),
        "force_mae_kcal_mol_A": float(np.abs(f_err).mean() * kcal),
        "force_rmse_kcal_mol_A": float(np.sqrt((f_err**2).mean()) * kcal),
        "zero_force_mae_kcal_mol_A": float(np.abs(f_ref).mean() * kcal),
    }
