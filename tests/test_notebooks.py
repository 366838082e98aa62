"""The lj scripts as Jupyter and VS Code run them: converted to a notebook (jupytext) and executed
cell by cell in a real IPython kernel, whose sys.argv is the kernel's own and which has no __file__."""

from conftest import ROOT, notebook_images, run_notebook


def test_lj1_runs_as_a_notebook_and_shows_both_figures(tmp_path):
    notebook = run_notebook(ROOT / "lj_1_overfit.py", tmp_path)
    assert notebook_images(notebook) == 2  # the descriptor and the overfit figure, inline
    text = "".join(out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", []))
    assert "6,601 trainable parameters" in text and text.count("seed ") == 2  # the quick settings
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {"lj_1_descriptor.png", "lj_1_overfit.png"}


def test_lj3_fit_figure_reaches_the_notebook_and_tensorboard(tmp_path):
    notebook = run_notebook(ROOT / "lj_3_hyperparameters.py", tmp_path)
    assert notebook_images(notebook) == 1  # logging it to TensorBoard did not close it
    (run,) = (tmp_path / "runs").iterdir()
    raw = b"".join(p.read_bytes() for p in run.glob("events.out.tfevents.*"))
    assert b"fit" in raw and b"best_epoch/test_MSE_eps2" in raw
