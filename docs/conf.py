"""Sphinx configuration of the course website: every numbered script as a page of a sphinx-gallery.

Build (from the project folder; offline; the first build runs every script at its default
settings: about 40 minutes on 2 cores, most of it the trainings of script4 and script5, which later
builds reuse from the outputs; with ML_TUTORIAL_QUICK=1 about 5 minutes):

    .venv/bin/python -m sphinx -b html docs docs/_build/html

What the build does:
* copies lj_[0-9]*.py and schnet_tutorial/script[0-9]*.py to docs/auto_examples/_scripts/, their
  prose in sphinx-gallery's documented form (see gallery_tools.py), and runs each in order, at its
  default settings (the environment variable ML_TUTORIAL_QUICK=1 gives the scripts' reduced
  settings instead, and a note on every page says so);
* sets ML_TUTORIAL_OUTPUT to <build folder>/../outputs (docs/_build/outputs): the scripts' figures/,
  runs/, results/, models and MD runs go there, never into the project's own folders;
* stops with a non-zero exit code when a script fails (abort_on_example_error) or exits
  (sys.exit/SystemExit: gallery_tools.stop_if_a_script_exited);
* renders the formulas with MathJax served from the site itself (the files of the
  sphinx-mathjax-offline package): no CDN, the site works offline;
* reruns only the scripts whose text changed since the last build (sphinx-gallery's md5 cache;
  delete docs/auto_examples to run everything again, or add ``-D plot_gallery=0`` to skip running);
* shows each lesson's exercises (its last cell, ``# %% Exercises``) at the end of its page, each with
  its worked solution from solutions/<lesson file name> under it, collapsed until the reader opens it
  (exercises.py), and on the home page a table of the exercises for teachers;
* writes the notebook downloads itself, as Markdown (notebooks.py), with the same solutions; the
  zipped download of a page holds the project's script and that notebook.

The student version, for teachers who set the exercises as homework: the same site and notebooks
without the solutions. Build it with the environment variable ML_TUTORIAL_STUDENT=1 (or
``-D ml_tutorial_student=1``), into its own folder:

    ML_TUTORIAL_STUDENT=1 .venv/bin/python -m sphinx -b html docs docs/_build_student/html

Switching between the two in one build folder re-reads every page (the setting is part of Sphinx's
environment) but runs no script again.
"""

import atexit
import importlib.util
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))  # gallery_tools, also for sphinx-gallery's "module.name" options

import exercises  # noqa: E402
import gallery_tools  # noqa: E402
import notebooks  # noqa: E402

atexit.register(gallery_tools.stop_if_a_script_exited)  # a script's SystemExit fails the build

# -- Project -----------------------------------------------------------------------------------
project = "ml_tutorial"
author = "the ml_tutorial authors"
html_title = "ml_tutorial"

extensions = ["sphinx_gallery.gen_gallery", "myst_parser", "sphinx.ext.mathjax"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/_scripts", "gallery_headers", "README.md"]
templates_path = []
suppress_warnings = ["config.cache"]  # sphinx_gallery_conf holds a class: not cached, harmless
myst_heading_anchors = 3
smartquotes = False  # keep "--epochs" and "..." as the scripts write them

# -- The galleries -----------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": gallery_tools.EXAMPLES_DIRS,  # staged copies of the numbered scripts
    "gallery_dirs": gallery_tools.GALLERY_DIRS,  # generated pages (auto_examples/<gallery>)
    "filename_pattern": r"[\\/](lj_\d+|script\d+)_\w*\.py$",  # run every numbered script
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "gallery_tools.NaturalSortKey",  # script1, script2, script3, ...
    "abort_on_example_error": True,  # a failing script fails the build (non-zero exit)
    "image_scrapers": ("matplotlib", "gallery_tools.trajectory_gif_scraper"),
    "reset_modules": ("matplotlib", "gallery_tools.note_script"),
    "reset_modules_order": "both",  # note_script also learns when a script has ended
    "capture_repr": (),  # show what the scripts print, not the value of a cell's last line
    "remove_config_comments": True,
    "download_all_examples": False,
    "thumbnail_size": (400, 280),
    "image_srcset": ["2x"],  # figures at twice the resolution for high-density screens
    "min_reported_time": 1,
    "show_signature": False,
    "first_notebook_cell": None,
    "write_computation_times": False,  # its page loads tables from CDNs; the build log has the times
}


# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_theme_options = {
    "logo": {"text": "ml_tutorial"},
    "navigation_with_keys": False,
    "show_nav_level": 2,
    "show_toc_level": 2,
    "header_links_before_dropdown": 5,
    "secondary_sidebar_items": ["page-toc", "sg_download_links"],  # downloads: script pages only
    "footer_start": [],
    "footer_end": [],
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# -- Math: MathJax 3 from the site itself (offline) --------------------------------------------
# The files come from the pip package sphinx-mathjax-offline (requirements-docs.txt); only what
# TeX input and HTML output need is copied into _static/mathjax at the end of the build.
_MATHJAX_PACKAGE = "sphinx-mathjax-offline"
mathjax_path = "mathjax/tex-chtml.js"
MATHJAX_SKIP = ("sre", "svg", "tex-svg*", "tex-mml*", "tex-chtml-full*", "mml-*", "node-main.js")
html_show_sourcelink = False
html_copy_source = False


# -- Where the scripts write, and where the project is -----------------------------------------
def _prepare(app):
    """Before sphinx-gallery runs anything: the output folder, and the scripts staged."""
    repo = Path(app.config.ml_tutorial_repo).resolve()
    if not (repo / "common").is_dir():
        from sphinx.errors import ConfigError

        raise ConfigError(f"ml_tutorial_repo = {repo} is not the project folder (no common/ in it)")
    output = Path(app.outdir).resolve().parent / "outputs"
    os.environ["ML_TUTORIAL_OUTPUT"] = str(output)  # read by common.runs at its first import
    os.environ.setdefault("MPLBACKEND", "Agg")
    app.ml_tutorial_paths = (output, repo)
    gallery_tools.stage(Path(app.srcdir), repo, outputs_exist=output.is_dir())


def _clean_paths(app, docname, source):
    """In the pages: /.../docs/_build/outputs/figures/x.png -> figures/x.png."""
    if docname.startswith("auto_examples/"):
        source[0] = gallery_tools.strip_build_paths(source[0], *app.ml_tutorial_paths, Path(app.srcdir))


def _solutions(app, docname, source):
    """Under each exercise of a lesson's page, its solution, collapsed (none in the student build)."""
    if docname.startswith("auto_examples/") and exercises.MARK.search(source[0]):
        stem, repo = docname.rsplit("/", 1)[-1], app.ml_tutorial_paths[1]
        solutions = exercises.solutions_file(repo, stem)
        for path in (solutions.parent, solutions):  # a rebuild rereads the page when they change
            if path.exists():
                app.env.note_dependency(str(path))
        source[0] = exercises.insert_solutions(source[0], stem, repo, _student(app))


def _truthy(value) -> bool:
    """True, 1, "1", "true", "yes", "on" (any case)."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def _student(app) -> bool:
    """The student version (no solutions): ``ml_tutorial_student`` (ML_TUTORIAL_STUDENT=1)."""
    return _truthy(app.config.ml_tutorial_student)


def _home_cards(app):
    """After sphinx-gallery ran the scripts: the home page's cards, with their figures."""
    gallery_tools.write_home_cards(
        Path(app.srcdir),
        {
            "lennard_jones": "Fit the Lennard-Jones potential with a small network: data, model, cost "
            "function, gradient descent, overfitting, validation, learning curves, optimizers.",
            "schnet": "Train a message-passing force field (PaiNN, SchNet's equivariant successor, or "
            "SchNet) on ethanol DFT data and run molecular dynamics with it; learning curves, "
            "uncertainty, active learning and vibrations.",
        },
    )


def _mathjax_files():
    spec = importlib.util.find_spec(_MATHJAX_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "static" / "mathjax"


def _check_mathjax(app):
    if app.builder.format == "html" and _mathjax_files() is None:
        from sphinx.errors import ConfigError

        raise ConfigError(
            f"the formulas need MathJax from the package {_MATHJAX_PACKAGE}: "
            "pip install -r requirements-docs.txt"
        )


def _finish(app, exc):
    """The build is done: MathJax into the site, and the project's own scripts as the downloads."""
    gallery_tools.note_build_finished()
    if exc is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    if not (target / "tex-chtml.js").is_file():
        shutil.copytree(
            _mathjax_files(), target, ignore=shutil.ignore_patterns(*MATHJAX_SKIP), dirs_exist_ok=True
        )
    repo = app.ml_tutorial_paths[1]
    gallery_tools.restore_downloads(Path(app.outdir), repo)
    scripts = [script for found in gallery_tools.numbered_scripts(repo).values() for script in found]
    notebooks.write_notebooks(Path(app.outdir), repo, scripts, student=_student(app))


def setup(app):
    app.add_config_value("ml_tutorial_repo", str(DOCS.parent), "env", types=[str])
    student = _truthy(os.environ.get("ML_TUTORIAL_STUDENT", ""))  # the default of -D ml_tutorial_student
    app.add_config_value("ml_tutorial_student", student, "env", types=[bool, str, int])
    app.connect("builder-inited", _check_mathjax, priority=0)
    app.connect("builder-inited", _prepare, priority=1)  # sphinx-gallery's own runs at 500
    app.connect("builder-inited", _home_cards, priority=900)  # after sphinx-gallery's
    app.connect("source-read", _clean_paths)
    app.connect("source-read", _solutions)
    app.connect("build-finished", _finish)
