"""The course website (docs/, sphinx-gallery): every numbered script as a page, built here with the
scripts' reduced settings (ML_TUTORIAL_QUICK=1) from a copy of docs/ in a temporary folder, so that
nothing is written into the project's docs/ or its figures/, runs/, models/ and ase_calcs/."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat  # noqa: E402
import pytest

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


def sphinx(src: Path, out: Path, repo: Path = ROOT, timeout: int = 600):
    env = dict(os.environ, ML_TUTORIAL_QUICK="1", MPLBACKEND="Agg")
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
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


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


def test_a_second_build_reuses_the_results(site):
    html, src, _ = site
    pages = sorted((src / "auto_examples").glob("*/*.rst"))
    before = {p: p.stat().st_mtime_ns for p in pages}
    result = sphinx(src, html)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert {p: p.stat().st_mtime_ns for p in pages} == before, "a script ran again"
    n = len(all_scripts())
    assert f"excluding {n} files that had previously been run" in result.stdout


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
    result = sphinx(copy_docs(tmp_path / "docs"), tmp_path / "build" / "html", repo=repo, timeout=300)
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
