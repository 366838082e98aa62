"""Figures a student can read on the course site, where every figure is shown at the page's width
(888 px): no text under ~9 px there, none cut off by the figure's edge, no texts drawn over each other.

Every script a test runs through conftest.run_script is checked this way (figure_probe/ hooks
matplotlib's savefig in the script's process), so the lessons' own figures are checked by the tests that
already run the lessons; these tests check the check itself."""

import sys

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from conftest import FIGURE_PROBE, run_script  # noqa: E402

sys.path.insert(0, str(FIGURE_PROBE))
from figure_check import figure_defects  # noqa: E402


def test_a_readable_figure_has_no_defects():
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    ax.plot([1, 2, 3], label="a curve")
    ax.set(xlabel="r (sigma)", ylabel="E (epsilon)", title="one panel")
    ax.legend(fontsize=9)
    assert figure_defects(fig) == []
    plt.close(fig)


def test_three_panels_of_15_inches_are_too_small_at_the_page_width():
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.5), layout="constrained")
    axes[0].set_xlabel("r (sigma)")
    defects = figure_defects(fig)
    assert any("'r (sigma)': 8.2 px" in d for d in defects), defects  # 10 pt x 888 / (15 x 72)
    plt.close(fig)


def test_a_label_cut_off_and_labels_on_top_of_each_other_are_found():
    fig, ax = plt.subplots(1, 3, figsize=(15, 3.5))  # no layout: the x labels fall off the bottom
    for a in ax:
        a.set_xlabel("x", fontsize=14)
    fig.text(0.5, 0.5, "phi_3 = 0.01", fontsize=14)
    fig.text(0.5, 0.505, "phi_4 = 0.00", fontsize=14)
    defects = figure_defects(fig)
    assert "'x': cut off by the figure's edge" in defects, defects
    assert "'phi_3 = 0.01' and 'phi_4 = 0.00' overlap" in defects, defects
    plt.close(fig)


def test_a_script_that_saves_an_unreadable_figure_fails_its_test(tmp_path):
    script = tmp_path / "wide.py"
    source = (
        "import sys\n"
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(float(sys.argv[1]), 4), layout='constrained')\n"
        "ax.plot([1, 2], label='seed 0')\n"
        "ax.legend(fontsize=8)\n"
        "fig.savefig('wide.png')\n"
    )
    script.write_text(source)  # (with a width of 7 inches the legend's 8 pt would be 14 px: fine)
    with pytest.raises(AssertionError, match=r"wide.png: 'seed 0': 6.2 px"):
        run_script(script, 16, cwd=tmp_path)  # 8 pt at 16 inches: 6.2 px
