"""Many trainings of script2's pipeline, each a dictionary of settings, cached and side by side.

script4 (learning curves), script5 (a committee) and script6 (active learning) need dozens of
trainings; ``run_all`` runs a list of them (``pipeline.train`` each):

- each training runs in its own Python process on one CPU core. A 9-atom molecule cannot keep two
  cores busy in one training (2 threads: 5-10 % faster), but two trainings side by side run at
  almost twice the pace (benchmarks/README.md). Processes, not threads or multiprocessing: this
  works the same from a terminal, Spyder, VS Code and Jupyter, on Linux, macOS and Windows;
- each result is a model folder (best_model, model_info.json as script2 writes it, result.json)
  named after its settings, under the calling script's results folder. A rerun reuses every
  finished folder; ``force=True`` recomputes. An interrupted training leaves no result.json and
  is redone next time; so is a folder whose model file was deleted;
- two runs at once (two script6, or script5 and script6 sharing a training) never train into the
  same folder: a lock file per folder (.<folder>.lock, the process id) makes the second wait for the
  first's result and reuse it; Ctrl-C stops every worker and says, in one line, what is kept.
"""

from schnet_tutorial.helpers import pipeline  # isort: skip (first: it quiets SchNetPack's import)
import contextlib
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from common.runs import DATABASE
from common.settings import fail
from schnet_tutorial.helpers.dataset import process_alive, read_stamp
from schnet_tutorial.helpers.model_files import MODEL_FILE, shown
from schnet_tutorial.helpers.pipeline import DEFAULTS

INDEX_KEYS = ("train_idx", "val_idx", "test_idx")  # a training's frames, beside its settings
RESULT_FILE = "result.json"
DONE = "@@trained "  # a worker's reply: this folder is done
SETTINGS_FILE = "settings.json"


# ---------------------------------------------------------------------------------------------
# One training (in a worker process)
# ---------------------------------------------------------------------------------------------
def main(folder) -> None:
    """Train the settings in folder/settings.json; write folder/result.json last."""
    folder = Path(folder)
    settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    split = [settings.pop(key) for key in INDEX_KEYS]
    result = pipeline.train(settings, folder, *split)
    tmp = folder / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
    tmp.replace(folder / RESULT_FILE)


def serve() -> None:
    """A worker process: train each folder named on stdin (its output goes into folder/log.txt),
    then say DONE folder on stdout. One process trains many: Python, PyTorch and SchNetPack take
    seconds to import, more than a small training."""
    reply = sys.stdout
    try:
        _serve(reply)
    except KeyboardInterrupt:  # Ctrl-C between two trainings: the script says what is kept
        raise SystemExit(130) from None


def _serve(reply) -> None:
    for line in sys.stdin:
        folder = Path(line.strip())
        with (
            open(folder / "log.txt", "a", encoding="utf-8") as log,
            redirect_stdout(log),
            redirect_stderr(log),
        ):
            try:
                main(folder)
            except SystemExit as exc:  # fail() wrote its one line into the log
                if exc.code == 130:
                    print("error: interrupted (Ctrl-C)")
            except Exception:
                traceback.print_exc()
        reply.write(f"{DONE}{folder}\n")
        reply.flush()


# ---------------------------------------------------------------------------------------------
# Many trainings (in the script's process)
# ---------------------------------------------------------------------------------------------
def job(train_idx, val_idx, test_idx, steps: int, seed: int, **changes) -> dict:
    """One training for ``run_all``: script2's settings with ``changes``, about ``steps`` optimizer
    steps on ``train_idx`` (EPOCHS from the steps), validated about 20 times (200 validation
    frames cost as much as many steps), or every epoch with an average of the weights (EMA_DECAY:
    see common.rules), ``seed`` for the weights and the batch order."""
    epochs = pipeline.epochs_for(steps, len(train_idx), changes.get("BATCH_SIZE", DEFAULTS["BATCH_SIZE"]))
    average = changes.get("EMA_DECAY", DEFAULTS["EMA_DECAY"])  # (SchNetPack's average: every epoch)
    return {
        **changes,
        "SEED": seed,
        "EPOCHS": epochs,
        "VAL_EVERY": 1 if average else max(1, epochs // 20),
        "train_idx": train_idx,
        "val_idx": val_idx,
        "test_idx": test_idx,
    }


def folder_of(base: Path, s: dict) -> Path:
    """base/<model>_n<frames>_seed<seed>_<hash of the settings and of the database>: a training
    with the same settings (in any script's list) has the same folder. Settings at their default
    value stay out of the hash, so a new knob (at its default) keeps the finished trainings."""
    s = {**DEFAULTS, **_plain(s)}
    db = Path(s["DB_PATH"] or DATABASE)
    stamp = read_stamp(db)  # where the database was built from: another source, other trainings
    key = {k: v for k, v in s.items() if k not in DEFAULTS or v != DEFAULTS[k]}
    key.update(database=str(db.resolve()), data=json.dumps(stamp) if stamp is not None else "")
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
    return Path(base) / f"{s['MODEL']}_n{len(s['train_idx'])}_seed{s['SEED']}_{digest}"


def load_result(folder: Path) -> dict | None:
    """A finished training's result, or None (unfinished, or its model file was deleted: train again)."""
    try:
        result = json.loads((Path(folder) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return result if (Path(folder) / MODEL_FILE).is_file() else None


@contextlib.contextmanager
def claimed(folder: Path, stop: threading.Event | None = None):
    """Only one process trains ``folder`` at a time: a lock file beside it (.<name>.lock) holds this
    process's id while the block runs. Another live process's lock is waited for (its result is then
    reused); the lock of a process that is gone is taken over."""
    lock = folder.parent / f".{folder.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    said = False
    while True:
        try:
            with open(lock, "x", encoding="utf-8") as fh:
                fh.write(str(os.getpid()))
            break
        except FileExistsError:
            if not process_alive(lock):
                lock.unlink(missing_ok=True)  # left by a run that was killed
                continue
            if not said:
                print(f"  waiting: another run is training {folder.name} ({shown(lock)})", flush=True)
                said = True
            if stop.wait(1.0) if stop is not None else time.sleep(1.0):
                raise Interrupted(folder.name) from None  # this run is stopping
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


class Interrupted(Exception):
    """A worker's training was interrupted (Ctrl-C), or the run is being stopped."""


class Worker:
    """A worker process (serve) and the trainings it is given, one at a time."""

    def __init__(self, log_path: Path):
        with open(log_path, "a", encoding="utf-8") as log:  # what the libraries print outside a training
            command = [sys.executable, "-m", "schnet_tutorial.helpers.workers"]
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )

    def train(self, folder: Path, s: dict, stop: threading.Event) -> dict:
        if folder.exists():
            shutil.rmtree(folder)  # unfinished (or recomputed with force)
        folder.mkdir(parents=True)
        (folder / SETTINGS_FILE).write_text(json.dumps(s), encoding="utf-8")
        try:
            self.process.stdin.write(f"{folder}\n")
            self.process.stdin.flush()
        except OSError:  # the worker has ended: Ctrl-C reached it first, or it crashed (below)
            pass
        for line in self.process.stdout:  # until the worker says it is done (or ends)
            if line.startswith(DONE):
                break
        result = load_result(folder)
        if result is None:
            log = folder / "log.txt"
            lines = (
                log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                if log.is_file()
                else []
            )
            errors = [line for line in lines if line.startswith("error:")]
            last = (errors or lines or ["the worker process ended"])[-1]
            if stop.is_set() or "interrupted (Ctrl-C)" in last or self.process.poll() in (130, -2):
                raise Interrupted(folder.name)  # Ctrl-C (it reached the worker first), or stopping
            fail(f"a training failed ({folder.name}): {last}; log: {log}")
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the worker ends when its input ends
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.terminate()


def run_all(trainings: dict, base, workers: int = 2, force: bool = False, say=None) -> dict:
    """Run ``trainings`` ({name: settings}), ``workers`` at a time; {name: result} in their order.

    Finished trainings (same settings) are read from their folders under ``base`` unless
    ``force``; names with the same settings share one training. ``say(name, result, folder,
    cached)`` reports each as it finishes.
    """
    places = folders(trainings, base)
    first = {}  # folder -> the first name that asks for it
    for name, folder in places.items():
        first.setdefault(folder, name)
    done = {}
    for folder, name in first.items():
        if not force and (result := load_result(folder)) is not None:
            done[folder] = result
            if say:
                say(name, result, folder, True)
    todo = [folder for folder in first if folder not in done]
    todo.sort(key=lambda folder: -_work(trainings[first[folder]]))  # the longest first: no long one last
    if not todo:
        return {name: done[folder] for name, folder in places.items()}
    Path(base).mkdir(parents=True, exist_ok=True)
    idle, stop = queue.Queue(), threading.Event()
    workers = [Worker(Path(base) / f"worker{k}.log") for k in range(max(1, min(workers, len(todo))))]
    for worker in workers:
        idle.put(worker)

    def job(folder):
        if stop.is_set():
            raise Interrupted(folder.name)
        with claimed(folder, stop):  # another run training it: wait, then reuse its result
            if not force and (result := load_result(folder)) is not None:
                if say:
                    say(first[folder], result, folder, True)
                return result
            worker = idle.get()
            try:
                result = worker.train(folder, _plain(trainings[first[folder]]), stop)
            finally:
                idle.put(worker)
        if say:
            say(first[folder], result, folder, False)
        return result

    pool = ThreadPoolExecutor(max_workers=len(workers))
    try:
        futures = [pool.submit(job, folder) for folder in todo]
        done.update((folder, future.result()) for folder, future in zip(todo, futures))
    except (KeyboardInterrupt, Interrupted):  # Ctrl-C (in a notebook it reaches only this process)
        stop.set()
        for worker in workers:
            worker.process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        kept = sum(load_result(folder) is not None for folder in first)
        fail(
            f"interrupted (Ctrl-C): the {kept} finished trainings are kept in {shown(base)}; run the script "
            "again to continue (it reuses them)",
            130,
        )
    except BaseException:  # an error: the other trainings stop too
        stop.set()
        for worker in workers:
            worker.process.terminate()
        raise
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for worker in workers:
            worker.stop()
    return {name: done[folder] for name, folder in places.items()}


def _work(s: dict) -> float:
    """A training's expected time, in SchNet frames (a PaiNN frame of the same size costs about 3)."""
    s = {**DEFAULTS, **s}
    return (
        s["EPOCHS"] * len(s["train_idx"]) * (3 if s["MODEL"] == "painn" else 1) * (s["N_FEATURES"] / 64) ** 2
    )


def _plain(s: dict) -> dict:
    """JSON-ready settings: index arrays as lists of int."""
    return {k: [int(i) for i in v] if k.endswith("_idx") else v for k, v in s.items()}


def folders(trainings: dict, base) -> dict:
    """{name: folder} of ``trainings`` under ``base`` (where run_all keeps them)."""
    return {name: folder_of(base, s) for name, s in trainings.items()}


if __name__ == "__main__":
    serve()
