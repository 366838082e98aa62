"""How a numbered script reads as a web page: its lesson title, the file name as subtitle, a note on
reduced settings, and each ``# %% 1 Data`` cell with its comment block as a reST heading and text, in
the form sphinx-gallery documents (``page_source``); the last cell, ``# %% Exercises``, as a numbered
list with a mark for each exercise's solution (exercises.py). The code is untouched. Used by
gallery_tools.stage; the prose itself is converted by prose.py.
"""

from __future__ import annotations

import ast
import re
from textwrap import dedent

from exercises import exercises_rst
from prose import escape_bars, prose_rst

# Which image of a page is its thumbnail on the gallery index (default: the first); negative
# numbers count from the last
THUMBNAIL_NUMBER = {
    "lj_1_overfit": 2,  # the overfitting figure rather than the descriptor
    "script3_run_md": -1,  # the energies and temperature along the MD (the first is the movie)
}

# The lesson of each page: its title (the file name is the subtitle). A script whose docstring
# starts with its lesson instead of its file name ("""Overfitting: ...""") is titled by that line.
LESSON_TITLES = {
    "lj_1_overfit": "Overfitting: 6,601 parameters and 10 points",
    "lj_2_overfit_with_validation": "Validation and test sets: early stopping",
    "lj_3_hyperparameters": "A model to play with: descriptor, activation, TensorBoard",
    "lj_4_learning_curve": "Learning curve: how many points are enough",
    "lj_5_bias_variance": "Bias-variance tradeoff: model size and L2 regularization",
    "lj_6_optimizers": "Gradient descent, momentum, stochasticity and Adam",
    "lj_7_hyperparameter_search": "Best practices: screen hyperparameters, grid and random search",
    "script1_prepare_data": "Ethanol DFT data for SchNetPack",
    "script2_train_schnet": "A force field for ethanol in a minute: SchNet and PaiNN",
    "script3_run_md": "Molecular dynamics with the trained force field",
    "script4_learning_curve": "How much data and which model? Learning curves and the ladder",
    "script5_uncertainty": "When can I trust my force field? Committee uncertainty",
    "script6_active_learning": "Which frames should I label next? Active learning",
    "script7_vibrations": "Is the force field physically right? Vibrations against PBE",
    "script8_foundation_model": "A few DFT frames: start from a foundation model? SO3LR against scratch",
}


# ---------------------------------------------------------------------------------------------
# The page source: the script, with its prose as sphinx-gallery reads it
# ---------------------------------------------------------------------------------------------
CELL_PATTERN = re.compile(
    r"(?P<header_line>^#{20,}.*|^# ?%%.*)\s(?P<text_content>(?:^#.*\s?)*)", flags=re.M
)  # sphinx-gallery's own pattern of a cell and its text (py_source_parser, documented syntax)
EXERCISES_HEADER = re.compile(r"^# ?%%[ \t]*Exercises[ \t]*$")  # the lesson's last cell (exercises.py)
UNDERLINE = {1: "=", 2: "-"}
QUICK_NOTE = """\
.. admonition:: Reduced settings
   :class: warning quick-settings

   This page was built with the scripts' reduced settings (``ML_TUTORIAL_QUICK=1``): fewer points,
   epochs, models or steps than the settings cell shows. The numbers in the output and the figures
   differ from those of a run at the settings shown.
"""


def _heading(text: str, level: int) -> str:
    text = " ".join(text.split())
    return f"{text}\n{UNDERLINE[level] * max(len(text), 3)}\n\n"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?)" else text + "."


def cell_title_rst(header_line: str) -> str:
    """'# %% 4 Find the parameters: every candidate on a few epochs' -> heading + one sentence."""
    match = re.match(r"^# ?%%\s*(.*)$", header_line.strip())
    title = match.group(1).strip() if match else ""
    title = re.sub(r"^\[markdown\]\s*", "", title)  # jupytext's cell type marker
    if not title:
        return ""
    head, sep, rest = title.partition(": ")
    if sep and rest:
        return _heading(head, 2) + _sentence(rest) + "\n\n"
    return _heading(title, 2)


def lesson_title(stem: str, first: str) -> tuple[str, str]:
    """(title, subtitle) of a page from its script's name and the first paragraph of its docstring.

    'lj_1_overfit.py: slides "..." (slides 1-8).' -> the lesson of LESSON_TITLES (else the text after
    the colon, without quotes and a closing parenthesis) and '``lj_1_overfit.py``: slides ...'; a first
    line that is the lesson itself -> that line and '``lj_1_overfit.py``'.
    """
    first = " ".join(first.split())
    match = re.match(rf"^(?:``)?{re.escape(stem)}\.py(?:``)?:?\s*(.*)$", first)
    if match:
        about = match.group(1)
        fallback = re.sub(r"\s*\([^()]*\)\.?$", "", about).strip(" .").strip('"')
        title = LESSON_TITLES.get(stem) or fallback or stem
        return title, f"``{stem}.py``" + (f": {about}" if about else "")
    title = first.rstrip(".") or LESSON_TITLES.get(stem, stem)
    return title, f"``{stem}.py``"


def lesson_label(stem: str) -> str:
    """A reference label that survives renumbering: 'script6_vibrations' -> 'lesson-script_vibrations'
    (the home page links to ``:ref:`lesson-script_vibrations```)."""
    return "lesson-" + re.sub(r"_?\d+_", "_", stem, count=1)


def page_header(docstring: str, stem: str, quick: bool = False) -> str:
    """The docstring as the page's reST head: title, subtitle, the quick-settings note, the prose.

    A docstring that already starts with a reST title is kept as it is (after the note).
    """
    text = docstring.strip("\n")
    lines = text.splitlines()
    note = "\n" + QUICK_NOTE if quick else ""
    if len(lines) > 1 and re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}", lines[1].strip()):
        head, _, rest = text.partition("\n\n")
        return head + "\n\n" + note + "\n" + prose_rst(rest) + "\n"
    first, _, rest = text.partition("\n\n")
    title, subtitle = lesson_title(stem, first)
    subtitle = escape_bars(subtitle)
    return (
        f".. _{lesson_label(stem)}:\n\n"
        + _heading(title, 1)
        + ".. rst-class:: lesson-file\n\n"
        + subtitle
        + "\n"
        + note
        + "\n"
        + prose_rst(dedent(rest).strip("\n"))
        + "\n"
    )


def _docstring_literal(text: str) -> str:
    """A Python string literal of ``text``: raw, so that the reST's backslashes (math) stay."""
    if '"""' not in text and not text.endswith("\\"):
        return f'r"""\n{text}"""'
    return repr(text)


def _cell(match: re.Match) -> str:
    """A ``# %% Title`` line and its comment block -> ``# %%`` and a text block with a heading."""
    header = match.group("header_line")
    content = match.group("text_content")
    prose = dedent(re.sub(r"^#", "", content, flags=re.M)).strip("\n")
    if header.lstrip("#").strip() and not re.match(r"^# ?%%", header):
        return match.group(0)  # a ##### line with text after the hashes: leave it alone
    body = exercises_rst(prose) if EXERCISES_HEADER.match(header) else prose_rst(prose)
    text = (cell_title_rst(header) if header.startswith("#") and "%%" in header else "") + body
    text = text.strip("\n")
    lines = [("# " + line).rstrip() for line in text.splitlines()]
    return "# %%\n" + "".join(line + "\n" for line in lines)


def page_source(source: str, stem: str, quick: bool = False) -> str:
    """The script as sphinx-gallery's documented input: a reST docstring with a title, and ``# %%``
    cells whose comment blocks are reST. The code is unchanged; two per-file settings are added as
    comments (``sphinx_gallery_multi_image``, ``sphinx_gallery_thumbnail_number``), which
    sphinx-gallery reads and removes from the page."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    first = tree.body[0] if tree.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        docstring = first.value.value
        before, after = lines[: first.lineno - 1], lines[first.end_lineno :]
    else:
        docstring, before, after = f"{stem}.py", [], lines
    config = ['# sphinx_gallery_multi_image = "single"\n']  # every figure at full width, one a row
    if stem in THUMBNAIL_NUMBER:
        config.append(f"# sphinx_gallery_thumbnail_number = {THUMBNAIL_NUMBER[stem]}\n")
    rest = CELL_PATTERN.sub(_cell, "".join(after))
    head = _docstring_literal(page_header(docstring, stem, quick))
    return "".join(before) + head + "\n" + "".join(config) + rest
