"""The lessons' exercises and their worked solutions on the site and in the notebooks.

* A lesson's last cell ``# %% Exercises`` (comments only: ``# 1. (kind) text``, continuation lines
  indented) becomes a numbered list on its page (``exercises_rst``). Under each exercise sits a reST
  comment, ``.. ml_tutorial solution N``: it is all the staged script holds of the solution, so editing a
  solution, or building the student version, never makes sphinx-gallery run a script again.
* When Sphinx reads a page (``insert_solutions``, the ``source-read`` event), each mark becomes the
  solution of that exercise from ``solutions/<lesson file name>`` (its ``# %% Exercise N`` cell: the
  header lines as text, Change / Answer / Why, then the code), inside an HTML ``<details>`` element:
  collapsed until the reader opens it. In the student build the marks are dropped. A lesson without a
  solution file shows its exercises only.
* ``solution_md``: the same solution as Markdown for the notebooks (``<details>`` works in Jupyter).
* ``teacher_table``: the home page's table of the exercises (lesson, how many, the time they take,
  what each practises), read from the solution files' ``# Kind:``, ``# Time:``, ``# Practises:`` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent, indent

from prose import escape_bars, prose_md, prose_rst

EXERCISES_CELL = re.compile(r"^# ?%%[ \t]*Exercises[ \t]*\n((?:#.*\n?)*)", re.M)
ITEM = re.compile(r"^(\d+)\.\s+(.*)$")
KIND = re.compile(r"^\(([^)]+)\)")
MARK = re.compile(r"^(?P<indent>[ \t]*)\.\. ml_tutorial solution (?P<n>\d+)[ \t]*$", re.M)
SOLUTION_CELL = re.compile(r"^# ?%%[ \t]*Exercise[ \t]+(\d+)\b.*$", re.M)
FIELD = re.compile(r"^# (Kind|Time|Practises|Checked by|Change|Answer[^:]*|Why):[ \t]?(.*)$")
SHOWN = ("Change", "Answer", "Why")  # the paragraphs of a solution, in this order
MAIN_GUARD = re.compile(r"^if __name__ == .__main__.:", re.M)


@dataclass
class Exercise:
    number: int
    kind: str  # "predict, then run", "read the figure", "write code" ("" if not given)
    text: str  # the exercise, as written (prose)


@dataclass
class Solution:
    number: int
    fields: dict[str, str] = field(default_factory=dict)  # "Kind" -> "write code", "Answer (...)" -> ...
    code: str = ""

    def get(self, name: str) -> str:
        """The field whose label starts with ``name`` ("Answer" finds "Answer (measured ...)")."""
        return next((v for k, v in self.fields.items() if k.startswith(name)), "")

    def label(self, name: str) -> str:
        return next((k for k in self.fields if k.startswith(name)), name)


# ---------------------------------------------------------------------------------------------
# Reading: a lesson's exercises, a solution file's cells
# ---------------------------------------------------------------------------------------------
def parse_exercises(prose: str) -> tuple[str, list[Exercise]]:
    """The Exercises cell's prose (comment marks removed) -> (the text before the list, exercises)."""
    intro: list[str] = []
    items: list[tuple[int, list[str]]] = []
    for line in prose.splitlines():
        match = ITEM.match(line)
        if match:
            items.append((int(match.group(1)), [match.group(2)]))
        elif items and (line[:1] in (" ", "\t") or not line.strip()):
            items[-1][1].append(line)
        elif items:
            items[-1][1].append(line.strip())  # a continuation line that lost its indent
        else:
            intro.append(line)
    exercises = []
    for number, lines in items:
        first, rest = lines[0], dedent("\n".join(lines[1:])).strip("\n")
        text = first + ("\n" + rest if rest else "")
        kind = KIND.match(first)
        exercises.append(Exercise(number, kind.group(1).strip() if kind else "", text.strip()))
    return "\n".join(intro).strip("\n"), exercises


def lesson_exercises(source: str) -> list[Exercise]:
    """The exercises of a lesson's text (its ``# %% Exercises`` cell; none without one)."""
    cells = list(EXERCISES_CELL.finditer(source))
    if not cells:
        return []
    prose = dedent(re.sub(r"^#", "", cells[-1].group(1), flags=re.M))
    return parse_exercises(prose)[1]


def parse_solutions(text: str) -> dict[int, Solution]:
    """A solution file's ``# %% Exercise N`` cells -> {N: Solution}."""
    found: dict[int, Solution] = {}
    cells = list(SOLUTION_CELL.finditer(text))
    for cell, after in zip(cells, cells[1:] + [None]):
        body = text[cell.end() : after.start() if after else len(text)]
        guard = MAIN_GUARD.search(body)
        lines = body[: guard.start() if guard else len(body)].lstrip("\n").splitlines()
        solution = Solution(int(cell.group(1)))
        current, header = None, 0
        for header, line in enumerate(lines + [""]):  # noqa: B007 (header: where the code starts)
            if not line.startswith("#"):
                break
            match = FIELD.match(line)
            if match:
                current = match.group(1).strip()
                solution.fields[current] = match.group(2)
            elif current:
                solution.fields[current] += "\n" + line[1:]
        for name, value in solution.fields.items():
            first, _, rest = value.partition("\n")
            solution.fields[name] = (first.strip() + "\n" + dedent(rest)).strip()
        solution.code = "\n".join(lines[header:]).strip("\n")
        found[solution.number] = solution
    return found


def solutions_file(repo: Path, stem: str) -> Path:
    return Path(repo) / "solutions" / f"{stem}.py"


def read_solutions(repo: Path, stem: str) -> dict[int, Solution]:
    """The solutions of lesson ``stem`` ({} when it has no solution file)."""
    path = solutions_file(repo, stem)
    return parse_solutions(path.read_text(encoding="utf-8")) if path.is_file() else {}


# ---------------------------------------------------------------------------------------------
# The page (reST) and the notebook (Markdown)
# ---------------------------------------------------------------------------------------------
def exercises_rst(prose: str) -> str:
    """The Exercises cell's prose as reST: the text before the list, then an enumerated list, a
    solution mark under each exercise."""
    intro, exercises = parse_exercises(prose)
    out = [prose_rst(intro).strip("\n"), ""] if intro.strip() else []
    for exercise in exercises:
        head = f"{exercise.number}. "
        text = prose_rst(exercise.text).strip("\n")
        out.append(head + indent(text, " " * len(head)).lstrip())
        out += ["", " " * len(head) + f".. ml_tutorial solution {exercise.number}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _meta(solution: Solution) -> list[str]:
    kind = solution.get("Kind")
    return [
        part
        for part in (
            kind[:1].upper() + kind[1:] if kind else "",
            solution.get("Time"),
            f"practises: {solution.get('Practises')}" if solution.get("Practises") else "",
            f"checked by {solution.get('Checked by')}" if solution.get("Checked by") else "",
        )
        if part
    ]


def _label(solution: Solution, name: str) -> tuple[str, str]:
    """('**Answer**', ' (measured 2026-12-06 ...):') from the field's label."""
    label = solution.label(name)
    rest = label[len(name) :].strip()
    return (f"**{name}**", f" {rest}:") if rest else (f"**{name}:**", "")


def solution_rst(solution: Solution) -> str:
    """One solution as reST: a collapsed ``<details>`` with its header, Change / Answer / Why, code."""
    out = [".. raw:: html", "", '   <details class="solution"><summary>Solution</summary>', ""]
    meta = _meta(solution)
    if meta:
        out += [".. rst-class:: solution-meta", "", prose_rst(" · ".join(meta)).strip("\n"), ""]
    for name in SHOWN:
        text = solution.get(name)
        if text:
            bold, rest = _label(solution, name)
            out += [prose_rst(f"{bold}{rest} {text}").strip("\n"), ""]
    if solution.code.strip():
        out += [".. code-block:: python", "", indent(solution.code, "   "), ""]
    out += [".. raw:: html", "", "   </details>", ""]
    return "\n".join(out)


def solution_md(solution: Solution) -> str:
    """One solution as Markdown for a notebook: the same, in a ``<details>`` element."""
    out = ['<details class="solution"><summary>Solution</summary>', ""]
    meta = _meta(solution)
    if meta:
        out += ["*" + prose_md(" · ".join(meta)).strip() + "*", ""]
    for name in SHOWN:
        text = solution.get(name)
        if text:
            bold, rest = _label(solution, name)
            out += [prose_md(f"{bold}{rest} {text}").strip("\n"), ""]
    if solution.code.strip():
        out += ["```python", solution.code, "```", ""]
    out += ["</details>"]
    return "\n".join(out) + "\n"


def insert_solutions(source: str, stem: str, repo: Path, student: bool) -> str:
    """A page's reST: each solution mark -> that solution (collapsed), or nothing (the student build,
    or no solution written for it)."""
    if not MARK.search(source):
        return source
    solutions = {} if student else read_solutions(repo, stem)

    def replace(match: re.Match) -> str:
        solution = solutions.get(int(match.group("n")))
        return indent(solution_rst(solution), match.group("indent")) if solution else ""

    return MARK.sub(replace, source)


# ---------------------------------------------------------------------------------------------
# The teacher's table on the home page
# ---------------------------------------------------------------------------------------------
def _minutes(time: str) -> int | None:
    match = re.match(r"^\s*(\d+)\s*min", time)
    return int(match.group(1)) if match else None


def teacher_table(repo: Path, lessons: list[tuple[str, Path]], titles: dict[str, str] | None = None) -> str:
    """reST: one row per lesson with exercises ((gallery, script) in the course's order): the lesson,
    how many exercises (how many write code), their time in all, and each one's time, kind and what it
    practises (from its solution's header; "no solution yet" where none is written). ``titles``: the
    lessons' titles by file stem (shown under the short name)."""
    rows, total, code = [], 0, 0
    for gallery, script in lessons:
        exercises = lesson_exercises(script.read_text(encoding="utf-8"))
        if not exercises:
            continue
        solutions = read_solutions(repo, script.stem)
        writes = sum("code" in e.kind for e in exercises)
        total, code = total + len(exercises), code + writes
        items, minutes = [], []
        for e in exercises:
            s = solutions.get(e.number)
            time = s.get("Time") if s else ""
            minutes.append(_minutes(time))
            what = (s.get("Practises") if s else "") or "(no solution yet)"
            kind = (s.get("Kind") if s else "") or e.kind
            items.append(" · ".join(p for p in (time, kind) if p) + f": {what}")
        known = [m for m in minutes if m is not None]
        span = f"{sum(known)} min" + (" + ?" if len(known) < len(minutes) else "") if known else "?"
        name = re.match(r"^(lj_\d+|script\d+)", script.stem)
        link = f":doc:`{name.group(1) if name else script.stem} </auto_examples/{gallery}/{script.stem}>`"
        title = (titles or {}).get(script.stem, "").split(":")[0]
        link += f": {escape_bars(title)}" if title else ""
        cell = [f"{i}. " + " ".join(prose_rst(t).split()) for i, t in enumerate(items, 1)]
        rows += [
            f"   * - {link}",
            f"     - {len(exercises)}" + (f" ({writes} write code)" if writes else ""),
            f"     - {span}",
            f"     - {cell[0]}",
            *[f"       {line}" for line in cell[1:]],
        ]
    if not rows:
        return "The lessons have no exercises yet.\n"
    head = [
        f"{total} exercises in all, {code} of them write code. Each lesson's page lists its exercises at",
        "its end, each with its worked solution (collapsed: open it to read it); the runnable solutions",
        "are in ``solutions/``, one file per lesson.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 20 12 9 59",
        "   :class: exercise-table",
        "",
        "   * - Lesson",
        "     - Exercises",
        "     - Time",
        "     - Each exercise: time · kind: what it practises",
    ]
    return "\n".join(head + rows) + "\n"
