"""One training pipeline: script2 writes it out in the page, schnet_tutorial/helpers/pipeline.py runs it for
script4-6. Same defaults, same model, cost, optimizer, schedule and split: the same losses."""

import ast
import json

import numpy as np
import pytest

from conftest import ROOT, run_script

from schnet_tutorial.helpers import dataset, pipeline  # isort: skip (first: it quiets SchNetPack's import)

SCRIPT2 = ROOT / "schnet_tutorial" / "script2_train_schnet.py"


def script_settings(script) -> dict:
    """The settings a script assigns before its setup(...) line, as written."""
    values = {}
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Expr) and "setup" in ast.unparse(node):
            return values
        if isinstance(node, ast.Assign) and node.targets[0].__class__ in (ast.Name, ast.Tuple):
            target, value = node.targets[0], ast.literal_eval(node.value)
            names = [target.id] if isinstance(target, ast.Name) else [e.id for e in target.elts]
            values.update(zip(names, [value] if len(names) == 1 else value))
    raise AssertionError("no setup line")


def test_script2_settings_are_the_pipelines_defaults():
    written = script_settings(SCRIPT2)
    assert {name: written[name] for name in pipeline.DEFAULTS} == pipeline.DEFAULTS


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    frames = dataset.read_frames(dataset.DATA_FILE, index=":60")
    db = tmp_path_factory.mktemp("data") / "small.db"
    dataset.build_database(frames, db)
    return db


def test_script2_and_the_pipeline_train_the_same_model(database, tmp_path):
    """A few epochs of script2 and of pipeline.train from the same seed and data: the same split,
    the same best validation loss and the same test errors (float tolerance)."""
    small = {"N_TRAIN": 30, "N_VAL": 10, "N_TEST": 15, "EPOCHS": 3, "N_FEATURES": 16, "N_INTERACTIONS": 2,
             "N_FILTERS": 8, "SEED": 3, "LOSS": "l1", "LEARNING_RATE": 5e-3}  # fmt: skip
    args = [a for name, v in small.items() for a in ("--" + name.lower().replace("_", "-"), v)]
    res = run_script(SCRIPT2, *args, "--db-path", database, env={"ML_TUTORIAL_OUTPUT": str(tmp_path / "out")})
    assert res.returncode == 0, res.stderr[-2000:]
    (info_file,) = (tmp_path / "out").glob("schnet_tutorial/models/*/model_info.json")
    info = json.loads(info_file.read_text())
    split = np.load(info_file.parent / "split.npz")
    train_idx, val_idx, test_idx = dataset.split(60, 30, 10, 15, seed=3)
    for name, idx in (("train_idx", train_idx), ("val_idx", val_idx), ("test_idx", test_idx)):
        assert list(split[name]) == list(idx)  # the one split function

    settings = {k: v for k, v in info["settings"].items() if k in pipeline.DEFAULTS}
    assert settings["DB_PATH"] == str(database) and settings["LOSS"] == "l1"
    folder = tmp_path / "pipeline"
    folder.mkdir()
    result = pipeline.train(settings, folder, train_idx, val_idx, test_idx)
    expected = info["results"]
    assert result["epochs_done"] == expected["epochs_done"] == 3
    for key in ("best_val_loss", "energy_mae_kcal_mol", "force_mae_kcal_mol_A"):
        assert result[key] == pytest.approx(expected[key], rel=1e-5), key
