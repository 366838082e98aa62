"""Set-up: pins in step, README quick start equal to what CI runs, runs/ kept in git."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    out = {}
    for line in lines:
        m = re.match(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_requirements_and_environment_yml_pin_the_same_versions():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    env_text = (ROOT / "environment.yml").read_text()
    env = pins(env_text.split("- pip:")[1].splitlines())
    assert req == env
    for name in ("torch", "numpy", "matplotlib", "tensorboard", "schnetpack", "ase", "pytest"):
        assert name in req, name
    assert req["schnetpack"] == "2.2.0"
    assert "python=3.12" in env_text and "name: ml_tutorial" in env_text
    assert (ROOT / ".python-version").read_text().strip() == "3.12"


def test_readme_quick_start_is_what_ci_runs():
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert len(ci) == 1
    readme = (ROOT / "README.md").read_text()
    assert f"`{ci[0]}`" in readme or f"\n{ci[0]}\n" in readme
    assert "tour.py" in readme


def test_runs_folder_is_kept_but_its_contents_ignored():
    tracked = subprocess.run(["git", "ls-files", "runs"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout:
        assert "runs/README.md" in tracked.stdout
    ignored = subprocess.run(["git", "check-ignore", "-q", "runs/some_run/events.out"], cwd=ROOT)
    assert ignored.returncode == 0


def test_code_is_formatted_and_linted_with_the_pinned_ruff():
    import sys

    ruff = [sys.executable, "-m", "ruff"]
    fmt = subprocess.run([*ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run([*ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_project_is_installed_and_the_readme_installs_it():
    import common

    assert Path(common.__file__).resolve().parent == ROOT / "common"
    readme = (ROOT / "README.md").read_text()
    assert "-r requirements.txt -e ." in readme and "source .venv/bin/activate" in readme
    assert "- -e ." in (ROOT / "environment.yml").read_text()


def test_output_folders_in_the_working_folder_do_not_shadow_the_modules(tmp_path):
    """A notebook kernel runs in its folder: with ML_TUTORIAL_OUTPUT there, it holds
    schnet_tutorial/{data,models,ase_calcs}; no module of the package may have one of those names."""
    import sys

    for name in ("data", "models", "ase_calcs"):
        (tmp_path / "schnet_tutorial" / name).mkdir(parents=True)
    names = sorted(p.stem for p in (ROOT / "schnet_tutorial").rglob("*.py"))
    assert not {"data", "models", "ase_calcs"} & set(names)
    helpers = [p.stem for p in (ROOT / "schnet_tutorial" / "helpers").glob("[a-z]*.py")]
    assert len(helpers) >= 9
    code = f"import importlib; [importlib.import_module('schnet_tutorial.helpers.' + m) for m in {helpers!r}]"
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
