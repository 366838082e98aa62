"""Every test writes into a temporary folder: ML_TUTORIAL_OUTPUT moves figures/, runs/, results/,
schnet_tutorial/models, ase_calcs and the database there (common.runs), for this process and every
script it starts. The repository's own output folders are compared before and after the session."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Path(tempfile.mkdtemp(prefix="ml_tutorial_tests_"))
os.environ["ML_TUTORIAL_OUTPUT"] = str(OUTPUT)  # before anything imports common.runs
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("ML_TUTORIAL_QUICK", None)

USER_FOLDERS = [
    "figures",
    "runs",
    "results",
    "schnet_tutorial/models",
    "schnet_tutorial/ase_calcs",
    "schnet_tutorial/data",
]


def snapshot() -> dict:
    """Name, size and hash of every file in the user's output folders."""
    found = {}
    for folder in USER_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file():
                found[str(path.relative_to(ROOT))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return found


BEFORE = snapshot()


FIGURE_PROBE = Path(__file__).resolve().parent / "figure_probe"  # checks every figure a script saves


HANG_S = 1800  # a script that runs longer hangs: every test's script takes seconds, minutes on a busy machine


def run_script(path, *args, cwd=None, timeout=HANG_S, env=None):
    """Run a script as a user would, headless; returns the CompletedProcess.

    Every figure the script saves is checked as the course site shows it (figure_probe/): a figure
    with text under ~9 px at the page's width, cut off by its edge, or texts drawn over each other
    fails the test that ran the script."""
    log = Path(tempfile.mkstemp(prefix="figures_", suffix=".jsonl", dir=OUTPUT)[1])
    path_with_probe = os.pathsep.join(filter(None, [str(FIGURE_PROBE), os.environ.get("PYTHONPATH")]))
    full_env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "ML_TUTORIAL_FIGURE_LOG": str(log),
        "PYTHONPATH": path_with_probe,
        **(env or {}),
    }
    try:
        res = subprocess.run(
            [sys.executable, str(path), *map(str, args)],
            cwd=cwd or ROOT,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=max(timeout, HANG_S),  # only against a hang, never a judgement of speed
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"hang guard: {Path(path).name} {' '.join(map(str, args))} ran {exc.timeout:.0f} s"
        ) from None
    checked = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    log.unlink()
    bad = [f"{Path(c['figure']).name}: {d}" for c in checked for d in c["defects"]]
    assert not bad, f"{Path(path).name} saved figures a student cannot read on the site:\n" + "\n".join(
        bad[:20]
    )
    return res


def result_of(res) -> dict:
    """{name: number} of the ``result: name=value ...`` line a script ends with."""
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("result: "), res.stdout[-1500:]
    return {k: float(v) for k, v in (field.split("=") for field in last.split()[1:])}


_DATABASE = {}  # script1's database of the bundled frames, built once per test process


def output_with_database(tmp_path_factory, name):
    """A fresh output folder with script1's database in it: (folder, env pointing the scripts there).
    script1 builds it once per test process; every folder gets its own copy (with its source stamp:
    up to date, as if script1 had run there)."""
    if "data" not in _DATABASE:
        first = tmp_path_factory.mktemp("database")
        res = run_script(
            ROOT / "schnet_tutorial" / "script1_prepare_data.py", env={"ML_TUTORIAL_OUTPUT": str(first)}
        )
        assert res.returncode == 0, res.stderr[-2000:]
        _DATABASE["data"] = first / "schnet_tutorial" / "data"
    out = tmp_path_factory.mktemp(name)
    shutil.copytree(_DATABASE["data"], out / "schnet_tutorial" / "data")
    return out, {"ML_TUTORIAL_OUTPUT": str(out)}


@pytest.fixture
def run():
    return run_script


@pytest.fixture
def output_root():
    """The temporary folder the scripts write into during the tests."""
    return OUTPUT


def run_notebook(script, output_root, timeout=HANG_S, **env):
    """Convert ``script`` with jupytext and execute it cell by cell in a fresh IPython kernel (as
    Jupyter and VS Code do), with the reduced settings and outputs under ``output_root``.
    Returns the executed notebook (nbformat)."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(script)
    saved = {k: os.environ.get(k) for k in ("ML_TUTORIAL_QUICK", "ML_TUTORIAL_OUTPUT", *env)}
    os.environ.update(ML_TUTORIAL_QUICK="1", ML_TUTORIAL_OUTPUT=str(output_root), **env)
    os.environ.pop("MPLBACKEND", None)  # the kernel's own inline backend, as in Jupyter
    try:
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(output_root)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        os.environ["MPLBACKEND"] = "Agg"
    return notebook


def notebook_images(notebook) -> int:
    """How many PNG images the executed notebook's outputs hold."""
    return sum(
        "image/png" in out.get("data", {}) for cell in notebook.cells for out in cell.get("outputs", [])
    )


def pytest_sessionfinish(session, exitstatus):
    """After the whole suite (with -n 2: in the process that collects the workers' results): the
    user's output folders are as they were before it, or the run fails."""
    if hasattr(session.config, "workerinput"):
        return  # a worker: the main process checks once, after every worker has finished
    changed = sorted(set(snapshot().items()) ^ set(BEFORE.items()))
    if changed:
        print(f"\nerror: the tests changed the user's output folders: {changed[:5]}", file=sys.stderr)
        session.exitstatus = 1
