"""The lessons' prose (the docstring and the comment blocks that open the cells: the page text of the
course site and the notebooks) says what runs, and writes its formulas as math; so do the solution
files' exercise headers (Change, Answer, Why: shown on the lesson's page under each exercise).

* Every formula and every unit with a power is reST math (``:math:`...```), rendered on the site: no
  ``r^-12``, ``cm^-1``, ``theta_{t+1}``, ``sqrt(m_i m_j)``, ``dE/dR`` or ``phi_1`` as plain text.
* A unit comment of a setting follows the cost it weighs (LOSS = "l1": eV; "mse": eV²).
* The parameter counts the prose states are those of the network at the lesson's defaults.
* The epochs a student reads are numbered from 1, in the log as in the summary and in TensorBoard.
"""

import ast
import re

import pytest

from conftest import ROOT

CELL_PATTERN = re.compile(
    r"(?P<header_line>^#{20,}.*|^# ?%%.*)\s(?P<text_content>(?:^#.*\s?)*)", flags=re.M
)  # sphinx-gallery's pattern of a cell and its text (as docs/page_source.py reads the cells)

LESSONS = sorted(ROOT.glob("lj_[0-9]*.py")) + sorted((ROOT / "schnet_tutorial").glob("script[0-9]*.py"))
SOLUTIONS = sorted(p for p in (ROOT / "solutions").glob("*.py") if p.name != "__init__.py")  # page text too
VERBATIM = re.compile(r"``.+?``|:math:`[^`]+`|^\s*\.\. math::.*")  # code and math: as they should be
PLAIN_MATH = re.compile(
    r"\^"  # a power: r^-12, epsilon^2, cm^-1, N^slope
    r"|_\{"  # a TeX index: theta_{t+1}
    r"|\bsqrt\("  # sqrt(m_i m_j)
    r"|\bd[A-Z]\w*/d[a-zA-Z]\b"  # a derivative: dE/dR
    r"|(?<![\w.])(?:[a-zA-Z]|phi|theta|sigma|epsilon|omega|eta|beta|lambda|mu|nu)_(?:[a-z0-9]{1,2}|[A-Z])(?![\w.])"
)  # a symbol with an index: phi_1, c_k, m_i, k_B (not a setting's name such as N_TRAIN)


def prose(path):
    """(line number, text) of the lines that become page text: the docstring and the cells' comments."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = []
    first = tree.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        lines += [(first.lineno + i, t) for i, t in enumerate(first.value.value.splitlines())]
    for cell in CELL_PATTERN.finditer(source):
        start = source[: cell.start("text_content")].count("\n") + 1
        lines += [(start + i, t.lstrip("#")) for i, t in enumerate(cell.group("text_content").splitlines())]
    return lines


def defaults(path):
    """{NAME: value} of the settings at the top of a script (the literal assignments before setup)."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
        if isinstance(node, ast.Expr) and "setup(" in ast.unparse(node):
            break
    return found


def test_the_prose_finds_the_text_of_every_cell():
    lines = dict(prose(ROOT / "lj_6_optimizers.py"))
    text = "\n".join(lines.values())
    assert "Every optimizer moves the parameters" in text  # the docstring
    assert "For the network: the MSE" in text  # a cell's comment block
    assert "1,261" in text and "STEEP, SHALLOW" not in text  # prose, not code


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_formulas_and_units_with_powers_are_math(path):
    """A lesson's prose, and a solution file's: its docstring and the comment header of each
    ``# %% Exercise N`` cell (Kind ... Change, Answer, Why), which the lesson's page shows under the
    exercise (docs/exercises.py). The comments inside a solution's code are code, shown as written."""
    plain = [
        f"{path.name}:{n}: {text.strip()}"
        for n, text in prose(path)
        if PLAIN_MATH.search(VERBATIM.sub("", text))
    ]
    assert not plain, "write these as :math:`...` (they are page text):\n" + "\n".join(plain)


def test_the_prose_of_a_solution_file_is_its_exercises_headers_not_its_code():
    lines = dict(prose(ROOT / "solutions" / "lj_6_optimizers.py"))
    text = "\n".join(lines.values())
    assert len(SOLUTIONS) >= 14 and " Kind: write code" in text and " Why: torch stores" in text
    assert "def nesterov_by_hand" not in text  # the code (and its comments) is not page prose


def test_the_check_finds_plain_formulas_and_leaves_names_and_math_alone():
    flagged = ["E(r) = 4 (r^-12 - r^-6)", "theta_{t+1}", "sqrt(m_i m_j)", "F = -dE/dR", "(phi_1(r), c_k)"]
    flagged += ["in cm^-1", "k_B T"]
    fine = ["N_TRAIN and R_MIN", "``x ** 2``", ":math:`\\omega^2`", "lj_1_overfit.py", "MAX_LAG_FS"]
    assert all(PLAIN_MATH.search(VERBATIM.sub("", t)) for t in flagged)
    assert not any(PLAIN_MATH.search(VERBATIM.sub("", t)) for t in fine)


UNITS = {"l1": (r"eV(?![²\w])", "eV"), "mse": (r"eV²", "eV²")}  # the energy unit of each cost


@pytest.mark.parametrize("path", [p for p in LESSONS if "LOSS" in defaults(p)], ids=lambda p: p.stem)
def test_a_weights_unit_comment_follows_the_cost(path):
    loss = defaults(path)["LOSS"]
    comments = dict(re.findall(r"^(\w+_WEIGHT) = [^#\n]*#(.*)$", path.read_text(encoding="utf-8"), re.M))
    assert comments, "no *_WEIGHT settings found"
    for name, comment in comments.items():
        assert re.search(UNITS[loss][0], comment), (
            f"{name}: {comment!r} has no {UNITS[loss][1]} (LOSS = {loss!r})"
        )
        other = next(k for k in UNITS if k != loss)
        if re.search(UNITS[other][0], comment):  # both units: each with its cost
            assert loss in comment and other in comment, f"{name}: {comment!r} does not say which LOSS"


@pytest.mark.parametrize("stem", ["lj_1_overfit", "lj_6_optimizers"])
def test_the_parameter_counts_in_the_prose_are_those_at_the_defaults(stem):
    from common.descriptors import GaussianBasis
    from common.mlp import LJModel, count_parameters

    path = ROOT / f"{stem}.py"
    s = defaults(path)
    model = LJModel(GaussianBasis(s["N_BASIS"], s["BASIS_MIN"], s["BASIS_MAX"]), s["WIDTH"], s["DEPTH"])
    counts = {
        int(n.replace(",", "")) for _, t in prose(path) for n in re.findall(r"\b\d{1,3}(?:,\d{3})+\b", t)
    }
    assert counts == {count_parameters(model)}, counts


def test_epochs_are_numbered_from_one_in_the_log(capsys):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from common.training import fit

    torch.manual_seed(0)
    data = DataLoader(TensorDataset(torch.rand(8, 1), torch.rand(8, 1)), batch_size=8)
    model = torch.nn.Linear(1, 1)
    hist = fit(model, data, torch.optim.SGD(model.parameters(), lr=0.1), 10, val_loader=data, log_every=5)
    logged = [int(m) for m in re.findall(r"^epoch\s+(\d+)", capsys.readouterr().out, re.M)]
    assert logged == [1, 5, 10]  # the first, every 5th, the last: as lj_3's "best validation epoch N of 10"
    assert hist.stopped_epoch + 1 == 10
