"""The course website (docs/, sphinx-gallery): every numbered script as a page, built here with the
scripts' reduced settings (ML_TUTORIAL_QUICK=1) from a copy of docs/ in a temporary folder, so that
nothing is written into the project's docs/ or its figures/, runs/, models/ and ase_calcs/."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat  # noqa: E402
import pytest
from markdown_it import MarkdownIt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import exercises  # noqa: E402  (docs/exercises.py)
import notebooks  # noqa: E402  (docs/notebooks.py)
import prose  # noqa: E402  (docs/prose.py)

sys.path.pop(0)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATED = ("_build", "auto_examples", "sg_execution_times.rst", "__pycache__")
LJ_CELLS = ["1 Data", "2 Model", "3 Cost function", "4 Find the parameters", "5 Look at the result"]


def numbered_scripts() -> dict[str, list[Path]]:
    return {
        "lennard_jones": sorted(ROOT.glob("lj_[0-9]*.py")),
        "schnet": sorted((ROOT / "schnet_tutorial").glob("script[0-9]*.py")),
    }


def all_scripts() -> list[tuple[str, Path]]:
    return [(gallery, path) for gallery, paths in numbered_scripts().items() for path in paths]


def docs_state() -> dict:
    """Every file of the project's docs/ with its size and time (the build must not touch them)."""
    return {
        str(p.relative_to(DOCS)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in DOCS.rglob("*")
        if p.is_file()
    }


# Only against a hang: the quick build takes about 3 minutes on 2 free cores, over 11 on a loaded
# machine; the test says so when this expires instead of failing on a slow machine.
HANG_TIMEOUT_S = 3600


def sphinx(src: Path, out: Path, repo: Path = ROOT, timeout: int = HANG_TIMEOUT_S, **env_vars):
    env = dict(os.environ, ML_TUTORIAL_QUICK="1", MPLBACKEND="Agg")
    env.pop("ML_TUTORIAL_STUDENT", None)  # the version with the solutions, unless a test asks
    env.update(env_vars)
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-D",
        f"ml_tutorial_repo={repo}",
        str(src),
        str(out),
    ]
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"the site build did not finish in {timeout} s: this timeout only guards against a hang "
            "(a normal quick build takes minutes); look for a script that waits forever"
        )


def copy_docs(target: Path) -> Path:
    shutil.copytree(DOCS, target, ignore=shutil.ignore_patterns(*GENERATED))
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The whole site, built once: (html folder, docs copy, the build's output)."""
    before = docs_state()
    tmp = tmp_path_factory.mktemp("site")
    src = copy_docs(tmp / "docs")
    html = tmp / "build" / "html"
    result = sphinx(src, html)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert docs_state() == before, "the build changed files in the project's docs/"
    return html, src, result.stdout + result.stderr


def page_of(html: Path, gallery: str, script: Path) -> Path:
    return html / "auto_examples" / gallery / f"{script.stem}.html"


@pytest.mark.parametrize(("gallery", "script"), all_scripts(), ids=lambda v: getattr(v, "stem", v))
def test_every_script_has_a_page_with_a_figure(site, gallery, script):
    html, _, _ = site
    page = page_of(html, gallery, script)
    assert page.is_file(), f"no page for {script.name}"
    text = page.read_text(encoding="utf-8")
    images = re.findall(rf'<img[^>]+src="[./]*_images/sphx_glr_{re.escape(script.stem)}_\d+\.\w+"', text)
    assert images, f"{page.name} shows no figure"
    for src in re.findall(r'<img[^>]+src="([^"]+)"', text):
        assert (page.parent / src).resolve().is_file(), f"{page.name}: missing image {src}"
    assert "Traceback (most recent call last)" not in text


def _text(html: str) -> str:
    return " ".join(re.sub(r"<.*?>", " ", html).split())


@pytest.mark.parametrize(("gallery", "script"), all_scripts(), ids=lambda v: getattr(v, "stem", v))
def test_every_page_is_titled_by_its_lesson_with_the_file_name_below(site, gallery, script):
    html, _, _ = site
    text = page_of(html, gallery, script).read_text(encoding="utf-8")
    title = _text(re.search(r"<h1>(.*?)</h1>", text, re.S).group(1)).rstrip("#").strip()
    assert ".py" not in title and len(title) > 10, f"{script.name}: the title is {title!r}, not a lesson"
    subtitle = re.search(r'<p class="[^"]*lesson-file[^"]*">(.*?)</p>', text, re.S)
    assert subtitle, f"{script.name}: no subtitle"
    assert f"{script.stem}.py" in _text(subtitle.group(1))
    assert text.index("<h1>") < subtitle.start(), "the subtitle is under the title"
    # the gallery's caption of the page is the lesson too, not a file name broken mid-word
    index = (html / "auto_examples" / gallery / "index.html").read_text(encoding="utf-8")
    caption = re.search(
        rf'{re.escape(script.stem)}\.html.*?sphx-glr-thumbnail-title">(.*?)</div>', index, re.S
    ) or re.search(
        rf'sphx-glr-thumbnail-title">(.*?)</div>(?:(?!thumbcontainer).)*?{re.escape(script.stem)}\.html',
        index,
        re.S,
    )
    assert caption and ".py" not in caption.group(1), f"{script.name}: gallery caption"


@pytest.mark.parametrize(("gallery", "script"), all_scripts(), ids=lambda v: getattr(v, "stem", v))
def test_quick_builds_say_so_at_the_top_of_every_page(site, gallery, script):
    html, _, _ = site
    text = page_of(html, gallery, script).read_text(encoding="utf-8")
    note = re.search(r'<div class="[^"]*quick-settings[^"]*">(.*?)</div>', text, re.S)
    assert note, f"{script.name}: no note that the page was built with reduced settings"
    assert "ML_TUTORIAL_QUICK=1" in _text(note.group(1))
    assert note.start() < text.find("sphx-glr-script-out"), "the note comes before any output"


def _has_formulas(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return ":math:`" in text or ".. math::" in text


def _assert_math_rendered(page: Path, html: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert re.search(r'<(span|div) class="math[^"]*">', text), f"{page.name}: no formula"
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', text, re.I)
    assert scripts, f"{page.name}: MathJax is not loaded"
    for src in scripts:
        assert "://" not in src and not src.startswith("//"), f"{page.name}: MathJax from the network: {src}"
        assert (page.parent / src.split("?")[0]).resolve().is_file(), f"{page.name}: {src} is missing"
    assert (html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_formulas_are_rendered_offline(site):
    """The home page's formulas, and those of every script that writes some (``:math:``), with
    MathJax from the site itself (no CDN)."""
    html, _, _ = site
    _assert_math_rendered(html / "index.html", html)
    _assert_math_rendered(html / "auto_examples" / "lennard_jones" / "index.html", html)
    for gallery, script in all_scripts():
        if _has_formulas(script):
            _assert_math_rendered(page_of(html, gallery, script), html)
    for page in html.rglob("*.html"):
        assert "cdn.jsdelivr" not in page.read_text(encoding="utf-8"), f"{page}: a CDN"


def test_the_home_page_has_a_figure_card_for_each_gallery(site):
    html, _, _ = site
    home = (html / "index.html").read_text(encoding="utf-8")
    cards = re.findall(r'<div class="[^"]*home-card(?![-s])[^"]*">(.*?)</p>\s*</div>', home, re.S)
    assert len(cards) == len(numbered_scripts()), cards
    for gallery, card in zip(numbered_scripts(), cards):
        assert f"auto_examples/{gallery}/index.html" in card
        src = re.search(r'<img[^>]+src="([^"]+)"', card)
        assert src and (html / src.group(1)).is_file(), f"the {gallery} card has no figure"


def test_every_page_is_on_its_gallery_index_with_a_thumbnail(site):
    html, _, _ = site
    for gallery, scripts in numbered_scripts().items():
        index = (html / "auto_examples" / gallery / "index.html").read_text(encoding="utf-8")
        for script in scripts:
            assert f"{script.stem}.html" in index
            assert f"sphx_glr_{script.stem}_thumb" in index
    home = (html / "index.html").read_text(encoding="utf-8")
    for script in numbered_scripts()["lennard_jones"]:
        assert f"auto_examples/lennard_jones/{script.stem}.html" in home  # the slide table


def test_no_page_has_a_traceback_or_a_path_of_the_build(site):
    html, src, _ = site
    build = str(html.parent.parent)
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page
        assert build not in text, f"{page}: shows the build's folder"


def test_cells_render_as_headings_and_prose(site):
    """'# %% 1 Data' and the comment block under it: a section '1 Data' with the prose as text."""
    html, _, log = site
    problems = re.findall(r"^.*auto_examples/.*\.rst:\d+: (?:WARNING|ERROR|SEVERE).*$", log, re.M)
    assert not problems, "the prose is not valid reST:\n" + "\n".join(problems)
    for script in numbered_scripts()["lennard_jones"]:
        text = page_of(html, "lennard_jones", script).read_text(encoding="utf-8")
        headings = [re.sub(r"<.*?>", "", h).strip() for h in re.findall(r"<h2>(.*?)<a class", text, re.S)]
        found = [cell for h in headings for cell in LJ_CELLS if h.startswith(cell)]
        assert found == LJ_CELLS, f"{script.name}: cell headings {headings}"
        prose = [p for p in re.findall(r"<p>(.*?)</p>", text, re.S) if len(p) > 80]
        assert len(prose) >= 3, f"{script.name}: the comment blocks did not render as text"


def test_downloads_are_the_script_and_a_valid_notebook(site):
    html, _, _ = site
    downloads = html / "_downloads"
    for _, script in all_scripts():
        py = list(downloads.glob(f"*/{script.stem}.py"))
        assert py and py[0].read_bytes() == script.read_bytes(), f"{script.name}: .py download"
        notebook = list(downloads.glob(f"*/{script.stem}.ipynb"))
        assert notebook, f"{script.name}: no .ipynb download"
        nb = nbformat.read(notebook[0], as_version=4)
        nbformat.validate(nb)
        code = "".join(cell.source for cell in nb.cells if cell.cell_type == "code")
        assert "setup(globals()" in code or script.parent.name == "schnet_tutorial"
        assert any(cell.cell_type == "markdown" for cell in nb.cells)
        (zipped,) = list(downloads.glob(f"*/{script.stem}.zip"))  # "Download zipped": the same two
        with zipfile.ZipFile(zipped) as archive:
            assert archive.read(script.name) == script.read_bytes()
            assert archive.read(notebook[0].name) == notebook[0].read_bytes()


def test_schnet_md_page_shows_the_trajectory_as_an_animation(site):
    from PIL import Image

    html, _, _ = site
    scripts = [s for s in numbered_scripts()["schnet"] if s.stem.startswith("script3")]
    assert scripts
    text = page_of(html, "schnet", scripts[0]).read_text(encoding="utf-8")
    gifs = re.findall(r'<img[^>]+src="([^"]+\.gif)"', text)
    assert gifs, "script3's page has no animated GIF"
    with Image.open(page_of(html, "schnet", scripts[0]).parent / gifs[0]) as gif:
        assert gif.n_frames > 1
        assert min(gif.size) >= 600, f"the animation is {gif.size} px"
    assert "sphx-glr-single-img" in text  # one figure a row, at the page's width


def test_outputs_go_to_the_build_folder(site):
    html, _, _ = site
    outputs = html.parent / "outputs"
    assert list((outputs / "figures").glob("lj_1_*.png"))
    assert list((outputs / "schnet_tutorial" / "ase_calcs").glob("*.traj"))


def test_the_student_build_reuses_the_results_and_shows_no_solutions(site):
    """ML_TUTORIAL_STUDENT=1, into a folder beside the site: no script runs again (the solutions are
    not part of what sphinx-gallery runs), and neither the pages nor the notebooks show a solution."""
    html, src, _ = site
    pages = sorted((src / "auto_examples").glob("*/*.rst"))
    before = {p: p.stat().st_mtime_ns for p in pages}
    student = html.parent / "html_student"  # the same outputs folder (html/../outputs)
    result = sphinx(src, student, ML_TUTORIAL_STUDENT="1")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert {p: p.stat().st_mtime_ns for p in pages} == before, "a script ran again"
    n = len(all_scripts())
    assert f"excluding {n} files that had previously been run" in result.stdout
    for gallery, script in all_scripts():
        text = page_of(student, gallery, script).read_text(encoding="utf-8")
        assert "<details" not in text, f"{script.name}: a solution in the student build"
        if exercises.lesson_exercises(script.read_text(encoding="utf-8")):
            assert 'id="exercises"' in text, f"{script.name}: the student build lost the exercises"
        (notebook,) = list((student / "_downloads").glob(f"*/{script.stem}.ipynb"))
        assert "<details" not in notebook.read_text(encoding="utf-8"), f"{script.name}: notebook"
    if any(exercises.lesson_exercises(script.read_text(encoding="utf-8")) for _, script in all_scripts()):
        assert "exercise-table" in (student / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ('raise ValueError("broken on purpose")', "broken on purpose"),
        ('print("stopping on purpose")\nraise SystemExit(0)', "the build stopped while lj_1_broken.py ran"),
    ],
    ids=["error", "sys.exit(0)"],
)
def test_a_failing_script_fails_the_build(tmp_path, code, said):
    repo = tmp_path / "project"
    (repo / "common").mkdir(parents=True)
    (repo / "schnet_tutorial").mkdir()
    (repo / "lj_1_broken.py").write_text(
        f'"""lj_1_broken.py: a script with an error."""\n\n# %% 1 Data\n{code}\n'
    )
    result = sphinx(copy_docs(tmp_path / "docs"), tmp_path / "build" / "html", repo=repo)
    assert result.returncode != 0
    assert said in result.stdout + result.stderr


def test_docs_use_no_private_sphinx_gallery_names():
    """Only sphinx-gallery's documented configuration: nothing of its internals (``_name``)."""
    private = re.compile(
        r"_get_docstring_and_rest|_exec_once|sphinx_gallery(\.\w+)*\._(?!_)\w+|"
        r"from\s+sphinx_gallery(\.\w+)*\s+import\s+[^\n]*\b_\w+"
    )
    for path in DOCS.rglob("*"):
        if path.suffix in (".py", ".rst", ".txt", ".cfg") and not set(path.relative_to(DOCS).parts) & set(
            GENERATED
        ):
            found = private.search(path.read_text(encoding="utf-8"))
            assert not found, f"{path.relative_to(ROOT)}: {found.group(0)}"


@pytest.mark.parametrize("script", [p for _, p in all_scripts()], ids=lambda p: p.stem)
def test_the_page_source_is_the_script_with_its_prose_as_rest(script):
    """What sphinx-gallery runs is the script's own code; only the docstring and comments change."""
    import ast

    sys.path.insert(0, str(DOCS))
    try:
        import gallery_tools
    finally:
        sys.path.remove(str(DOCS))
    source = script.read_text(encoding="utf-8")
    staged = gallery_tools.page_source(source, script.stem, quick=True)

    def code(text):
        return ast.dump(ast.Module(body=ast.parse(text).body[1:], type_ignores=[]))

    assert code(staged) == code(source)
    assert re.search(r"^# %%$", staged, re.M) and not re.search(r"^# %% \S", staged, re.M)


# ---------------------------------------------------------------------------------------------
# Exercises and solutions (issue 27), notebooks as Markdown (issue 26)
# ---------------------------------------------------------------------------------------------
REST_DEBRIS = re.compile(
    r"^\s*\.\.\s+[\w-]+::|:[\w-]+:`|^\s*::\s*$|\S::\s*$|rst-class|^\s*\.\. _[\w-]+:|^\s*:class:", re.M
)


def rest_debris(markdown: str) -> list[str]:
    """What a reader of the notebook would see of reST: the Markdown rendered as CommonMark (as
    Jupyter does), its text searched for directives, roles, ``::`` and targets."""
    import html as html_lib

    rendered = MarkdownIt("commonmark").render(markdown)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", rendered))
    roles = re.findall(r":[a-z-]+:<code>", rendered)  # :math:`x` renders as :math:<code>x</code>
    return [m.group(0) for m in REST_DEBRIS.finditer(text)] + roles


def markdown_cells(notebook: dict) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]


def test_rest_debris_is_found_where_there_is_some():
    """The detector itself: each kind of reST the notebooks used to show is caught."""
    for debris in (
        ".. rst-class:: lesson-file\n\ntext",
        ".. admonition:: Reduced settings\n   :class: warning quick-settings\n\n   text",
        "a table::\n\n    x  y",
        "::\n\n    x",
        "the force :math:`F`",
        ":doc:`data <ethanol_data>`",
    ):
        assert rest_debris(debris), debris
    assert not rest_debris("the force $F = -dE/dr$, ``--epochs 5`` and a[::2]\n\n```text\nx  y\n```")


@pytest.mark.parametrize("script", [p for _, p in all_scripts()], ids=lambda p: p.stem)
def test_notebooks_are_markdown_without_rest(script):
    """Every notebook's Markdown cells (title, prose, exercises, solutions) rendered as CommonMark:
    no reST directive, role, ``::`` or target; the code cells are the script's code."""
    solutions = exercises.read_solutions(ROOT, script.stem)
    source = script.read_text(encoding="utf-8")
    nb = notebooks.notebook(source, script.stem, solutions)
    nbformat.validate(nbformat.from_dict(nb))
    cells = markdown_cells(nb)
    assert cells[0].startswith("# ") and f"{script.stem}.py" in cells[0]
    for cell in cells:
        assert not rest_debris(cell), f"{script.name}: {rest_debris(cell)} in\n{cell[:800]}"
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    body = ast.parse(source).body
    assert ast.dump(ast.Module(ast.parse(code).body, [])) == ast.dump(ast.Module(body[1:], []))


def test_an_indented_table_stays_a_table_in_the_notebook():
    """lj_6's optimizer table (indented lines under a sentence) keeps one line per optimizer."""
    table = "  gradient descent  v_t = -lr grad C\n  Adam              momentum plus"
    rendered = MarkdownIt("commonmark").render(prose.prose_md(f"Every optimizer:\n{table}\nThey race."))
    lines = [line.strip() for line in table.splitlines()]
    assert re.search(rf"<pre><code[^>]*>{re.escape(lines[0])}\n{re.escape(lines[1])}", rendered)
    assert "<p>They race.</p>" in rendered
    lj_6 = ROOT / "lj_6_optimizers.py"
    rendered = MarkdownIt("commonmark").render(
        markdown_cells(notebooks.notebook(lj_6.read_text(encoding="utf-8"), lj_6.stem))[0]
    )
    paragraphs = re.findall(r"<p>(.*?)</p>", rendered, re.S)
    assert "Nesterov" in rendered and "Adam" in rendered
    assert not any("Nesterov" in p and "Adam" in p for p in paragraphs), "the table ran into one paragraph"


SAMPLE_LESSON = '''"""lj_9_sample.py: a sample lesson."""

x = 1

# %% Exercises
# Worked answers: solutions/lj_9_sample.py.
#
# 1. (predict, then run) Set X = 2. Which way does the error move?
# 2. (write code) Write a function that returns |x|,
#    with a table:
#
#        a  b
#        1  2
#
# 3. (read the figure) Which curve is lowest?
'''
SAMPLE_SOLUTIONS = '''"""Worked solutions to lj_9_sample.py's exercises."""

from solutions import main

# %% Exercise 1
# Kind: predict, then run
# Time: 5 min
# Practises: reading a learning rate
# Checked by: tests/test_solutions_lj.py
# Change: ``--x 2``
# Answer (measured 2026-12-06): it falls from 3 to 1 :math:`\\varepsilon^2`, on any machine.
# Why: more is better,
#    in this sample.


def exercise_1(out=None, quick=False):
    return {"mse": 1.0}


# %% Exercise 2
# Kind: write code
# Time: 15 min
# Practises: a first function
# Change: the code below
# Answer: it returns 3 for -3.
# Why: abs.


def absolute(x):
    return abs(x)


def exercise_2(out=None, quick=False):
    return {"abs": absolute(-3)}


if __name__ == "__main__":
    main(globals())
'''


def test_each_solution_sits_collapsed_under_its_exercise_and_the_student_version_has_none(tmp_path):
    """The page's reST: the exercises as a list; under exercises 1 and 2 their solution (header as
    text, Change / Answer / Why, then the code) in a closed <details>; exercise 3, without one, shows
    only the exercise; the student version shows the exercises only. The same in the notebook."""
    sys.path.insert(0, str(DOCS))
    try:
        from page_source import page_source
    finally:
        sys.path.remove(str(DOCS))
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "lj_9_sample.py").write_text(SAMPLE_SOLUTIONS, encoding="utf-8")
    staged = page_source(SAMPLE_LESSON, "lj_9_sample")
    assert "Set X = 2" in staged and "return abs(x)" not in staged  # the solutions are not run
    rst = re.sub(r"^# ?", "", staged.split("# %%\n")[-1], flags=re.M)
    page = exercises.insert_solutions(rst, "lj_9_sample", tmp_path, student=False)
    first, second, third = page.index("1. (predict"), page.index("2. (write code)"), page.index("3. (read")
    solutions = [m.start() for m in re.finditer(r"<details class=\"solution\"><summary>Solution", page)]
    assert len(solutions) == 2 and first < solutions[0] < second < solutions[1] < third
    assert "<details open" not in page and page.count("</details>") == 2
    one = page[solutions[0] : second]
    for said in ("Predict, then run", "5 min", "reading a learning rate", "**Change:**", "``--x 2``"):
        assert said in one, said
    assert one.index("**Answer** (measured 2026-12-06):") < one.index("**Why:**")
    from docutils.core import publish_parts

    solution = exercises.read_solutions(tmp_path, "lj_9_sample")[1]
    mathjax = {"math_output": "MathJax"}  # as the site renders math
    html = publish_parts(exercises.solution_rst(solution), writer="html", settings_overrides=mathjax)["body"]
    assert '<span class="math">\\(\\varepsilon^2\\)</span>' in html  # the Answer's formula renders as math
    assert "return abs(x)" in page[solutions[1] : third] and ".. code-block:: python" in page
    student = exercises.insert_solutions(rst, "lj_9_sample", tmp_path, student=True)
    assert "<details" not in student and "3. (read the figure)" in student and "ml_tutorial" not in student

    nb = notebooks.notebook(SAMPLE_LESSON, "lj_9_sample", exercises.read_solutions(tmp_path, "lj_9_sample"))
    cells = markdown_cells(nb)
    assert [c.count("<details") for c in cells if c.startswith("**")] == [1, 1, 0]
    assert any("to 1 $\\varepsilon^2$, on any machine" in c for c in cells)  # Markdown math in the notebook
    assert "```python\ndef absolute(x):" in cells[-2] and not any(map(rest_debris, cells))
    plain = notebooks.notebook(SAMPLE_LESSON, "lj_9_sample", {})
    assert not any("<details" in c for c in markdown_cells(plain))
    assert len(markdown_cells(plain)) == len(cells)


def test_the_teacher_table_counts_the_exercises_and_reads_their_headers(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "lj_9_sample.py").write_text(SAMPLE_SOLUTIONS, encoding="utf-8")
    lesson = tmp_path / "lj_9_sample.py"
    lesson.write_text(SAMPLE_LESSON, encoding="utf-8")
    table = exercises.teacher_table(tmp_path, [("lennard_jones", lesson)])
    row = table[table.index(":doc:`lj_9") :]
    assert "- 3 (1 write code)" in row and "- 20 min + ?" in row  # exercise 3 has no time yet
    assert "1. 5 min · predict, then run: reading a learning rate" in row
    assert "2. 15 min · write code: a first function" in row and "3. read the figure: (no solution" in row
    assert table.startswith("3 exercises in all, 1 of them write code")


def exercise_items(html: str) -> list[str]:
    """The items of the first list in ``html`` (the exercises), each with what it holds (a solution
    may hold lists of its own)."""
    from html.parser import HTMLParser

    class Items(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.items, self.done = 0, [], False

        def handle_starttag(self, tag, attrs):
            if self.done:
                return
            if tag in ("ol", "ul"):
                self.depth += 1
            if tag == "li" and self.depth == 1:
                self.items.append("")
            elif self.items:
                self.items[-1] += self.get_starttag_text()

        def handle_endtag(self, tag):
            if tag in ("ol", "ul") and not self.done:
                self.depth -= 1
                self.done = self.depth == 0
            if self.items and not self.done:
                self.items[-1] += f"</{tag}>"

        def handle_data(self, data):
            if self.items and not self.done:
                self.items[-1] += data

    parser = Items()
    parser.feed(html)
    return parser.items


def test_the_site_shows_each_lessons_exercises_with_their_solutions_collapsed(site):
    """Each page with an Exercises cell lists them at its end; each exercise with a written solution
    has it right under it, closed; the home page has the teacher's table; solutions/ is no gallery."""
    html, _, _ = site
    assert not (html / "auto_examples" / "solutions").exists()
    home = (html / "index.html").read_text(encoding="utf-8")
    for gallery, script in all_scripts():
        found = exercises.lesson_exercises(script.read_text(encoding="utf-8"))
        if not found:
            continue
        assert f"auto_examples/{gallery}/{script.stem}.html" in home.split("exercise-table", 1)[-1]
        text = page_of(html, gallery, script).read_text(encoding="utf-8")
        items = exercise_items(text[text.index('id="exercises"') :])
        assert len(items) == len(found), f"{script.name}: the exercises are not a list"
        written = exercises.read_solutions(ROOT, script.stem)
        for exercise, item in zip(found, items):
            has = "<details" in item
            assert has == (exercise.number in written), f"{script.name} exercise {exercise.number}"
            assert "<details open" not in item
        notebook = list((html / "_downloads").glob(f"*/{script.stem}.ipynb"))[0]
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        assert sum("<details" in c for c in markdown_cells(nb)) == len(
            set(written) & {e.number for e in found}
        )


def test_the_site_notebooks_are_markdown_without_rest(site):
    html, _, _ = site
    for _, script in all_scripts():
        (notebook,) = list((html / "_downloads").glob(f"*/{script.stem}.ipynb"))
        for cell in markdown_cells(json.loads(notebook.read_text(encoding="utf-8"))):
            assert not rest_debris(cell), f"{notebook.name}: {rest_debris(cell)}"
