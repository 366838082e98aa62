"""The downloadable notebooks, written from the project's own scripts (``write_notebooks``).

sphinx-gallery makes its notebooks from the staged copies, whose prose is reST (the page's title
markup, the reduced-settings note, literal blocks): Markdown cells full of ``.. rst-class::`` and
``::``. A notebook is Markdown, so the build replaces each ``.ipynb`` download with one made here:
the docstring as the title, the file name and the prose; each ``# %% Title`` cell as a heading, its
comment block as text (``prose.prose_md``) and its code; the Exercises cell as one Markdown cell per
exercise, each followed by its worked solution in a collapsed ``<details>`` element (none in the
student build). The code cells are the script's code, unchanged. A page's zipped download gets the
script and this notebook.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import zipfile
from pathlib import Path
from textwrap import dedent

from exercises import parse_exercises, read_solutions, solution_md
from page_source import lesson_title
from prose import prose_md

CELL_START = re.compile(r"^# ?%%(.*)$")


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n").splitlines(keepends=True)}


def _code(text: str) -> dict:
    source = text.strip("\n").splitlines(keepends=True)
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def title_md(docstring: str, stem: str) -> str:
    """The docstring as the notebook's first cell: '# lesson', the file name, the prose."""
    text = dedent(docstring).strip("\n")
    lines = text.splitlines()
    if len(lines) > 1 and re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}", lines[1].strip()):
        head, _, rest = text.partition("\n\n")
        return f"# {lines[0].strip()}\n\n" + prose_md(rest)
    first, _, rest = text.partition("\n\n")
    title, subtitle = lesson_title(stem, first)
    return f"# {title}\n\n*{subtitle}*\n\n" + prose_md(dedent(rest).strip("\n"))


def heading_md(header: str) -> str:
    """'# %% 4 Find the parameters: every candidate' -> '## 4 Find the parameters' and a sentence."""
    title = re.sub(r"^\[markdown\]\s*", "", CELL_START.match(header).group(1).strip())
    if not title:
        return ""
    head, sep, rest = title.partition(": ")
    if sep and rest:
        rest = rest[0].upper() + rest[1:]
        return f"## {head}\n\n{rest if rest[-1] in '.!?)' else rest + '.'}\n\n"
    return f"## {title}\n\n"


def _cells(body: str) -> list[tuple[str, str, str]]:
    """The script after its docstring -> [(header line, comment prose, code)]; the code before the
    first ``# %%`` has no header."""
    out, header, comments, code = [], "", [], []
    at_top = True  # the comment block right under a header is its prose
    for line in body.splitlines():
        if CELL_START.match(line):
            out.append((header, "\n".join(comments), "\n".join(code)))
            header, comments, code, at_top = line, [], [], True
        elif at_top and header and line.startswith("#"):
            comments.append(line[1:])
        else:
            at_top = False
            code.append(line)
    out.append((header, "\n".join(comments), "\n".join(code)))
    return out


def notebook(source: str, stem: str, solutions: dict | None = None) -> dict:
    """The notebook (nbformat 4) of a script's text; ``solutions``: {N: Solution} shown under the
    exercises (None or {}: the exercises only)."""
    tree = ast.parse(source)
    first = tree.body[0] if tree.body else None
    cells = []
    lines = source.splitlines(keepends=True)
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        cells.append(_markdown(title_md(first.value.value, stem)))
        body = "".join(lines[: first.lineno - 1] + lines[first.end_lineno :])
    else:
        cells.append(_markdown(f"# {stem}.py"))
        body = source
    for header, comments, code in _cells(body):
        prose = dedent(comments).strip("\n")
        if header and re.match(r"^# ?%%\s*Exercises\s*$", header):
            intro, exercises = parse_exercises(prose)
            cells.append(_markdown("## Exercises\n\n" + prose_md(intro)))
            for exercise in exercises:
                text = f"**{exercise.number}.** " + prose_md(exercise.text)
                solution = (solutions or {}).get(exercise.number)
                cells.append(_markdown(text + ("\n" + solution_md(solution) if solution else "")))
        else:
            text = (heading_md(header) if header else "") + (prose_md(prose) if prose else "")
            if text.strip():
                cells.append(_markdown(text))
        if code.strip():
            cells.append(_code(code))
    version = sys.version_info
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "version": f"{version[0]}.{version[1]}.{version[2]}"},
    }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 4}


def write_notebooks(outdir: Path, repo: Path, scripts: list[Path], student: bool) -> int:
    """Replace every ``.ipynb`` download of ``scripts`` in the built site with the notebook made
    here (with the solutions unless ``student``), and each page's zipped download with the script
    and that notebook; returns how many files were written."""
    count = 0
    for script in scripts:
        solutions = {} if student else read_solutions(repo, script.stem)
        nb = notebook(script.read_text(encoding="utf-8"), script.stem, solutions)
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        for target in Path(outdir).glob(f"_downloads/*/{script.stem}.ipynb"):
            target.write_text(text, encoding="utf-8")
            count += 1
        for target in Path(outdir).glob(f"_downloads/*/{script.stem}.zip"):
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.write(script, script.name)
                archive.writestr(f"{script.stem}.ipynb", text)
            count += 1
    return count
