"""The machinery behind docs/conf.py: which scripts become pages, and how they read.

Only sphinx-gallery's documented configuration is used (no private function is replaced), so an
upgrade of sphinx-gallery cannot break the site silently:

* ``stage``: writes a copy of each numbered script (``lj_[0-9]*.py`` in the project folder,
  ``schnet_tutorial/script[0-9]*.py``) and the gallery headers into ``docs/auto_examples/_scripts``,
  where sphinx-gallery finds them. The copy is the script with its prose in the form sphinx-gallery
  reads (``page_source.py``): the docstring becomes the page's title (the lesson), a subtitle (the file
  name) and, in a build with reduced settings, a note that says so; each ``# %% 1 Data`` line and
  the comment block under it become ``# %%`` and a text block that opens with a heading "1 Data".
  The code is untouched. Copies are rewritten only when their text changed, so sphinx-gallery's md5
  cache reruns only the scripts that changed. The ``.py`` downloads are the project's own files
  (``restore_downloads``); the notebooks are written by ``notebooks.py``. ``stage`` also writes the
  home page's table of the exercises (``exercises.teacher_table``).
* ``note_script`` (``reset_modules``) and ``stop_if_a_script_exited`` (at exit): a script that ends
  with ``sys.exit``/``SystemExit`` (which sphinx-gallery does not catch) fails the build with a
  message naming it, even ``SystemExit(0)``.
* ``trajectory_gif_scraper``: puts an animation of the MD trajectory on script3's page, after the cell
  that ran the MD, drawn by ``trajectory_movie.py`` from the ``.traj`` file (a GIF a script writes
  itself, e.g. with ``WRITE_GIF = True``, is shown too).
* ``write_home_cards``: the home page's figure cards, one per gallery, from the built figures.
* ``NaturalSortKey``: lj_2 before lj_10, script2 before script10 (script2 needs script1's database,
  script3 needs script2's model: the scripts of a gallery run in this order).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

from exercises import teacher_table
from page_source import LESSON_TITLES, page_source

# gallery folder (under auto_examples/) -> (folder of its scripts in the project, file pattern)
GALLERIES = {
    "lennard_jones": (".", "lj_[0-9]*.py"),
    "schnet": ("schnet_tutorial", "script[0-9]*.py"),
}
GALLERY_TITLES = {"lennard_jones": "Lennard-Jones", "schnet": "Ethanol force field and MD with SchNetPack"}
STAGING = Path("auto_examples") / "_scripts"  # relative to docs/
GALLERY_DIRS = [f"auto_examples/{name}" for name in GALLERIES]
EXAMPLES_DIRS = [f"{STAGING.as_posix()}/{name}" for name in GALLERIES]
CHAINED = {"schnet"}  # galleries whose scripts read what the previous ones wrote
HEADERS = Path("gallery_headers")  # docs/gallery_headers/<gallery>.rst -> GALLERY_HEADER.rst
ETHANOL_README = "schnet_tutorial/data/README.md"  # shown, not executed, on ethanol_data.md
ETHANOL_README_COPY = STAGING / "ethanol_data_README.md"
HOME_CARDS = Path("auto_examples") / "home_cards.inc"  # included by index.rst (not a page itself)
EXERCISE_TABLE = Path("auto_examples") / "exercise_table.inc"  # the teacher's table, in index.rst

# The figure of each gallery's card on the home page: (script, image number; -1 = the last)
HOME_CARD_FIGURE = {"lennard_jones": ("lj_1_overfit", 2), "schnet": ("script3_run_md", 1)}


def natural_key(name: str) -> list:
    """'lj_10_x.py' after 'lj_2_x.py': digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", Path(name).name)]


class NaturalSortKey:
    """sphinx-gallery's ``within_subsection_order``: natural order of the file names."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return natural_key(str(filename))

    def __repr__(self):
        return "NaturalSortKey"


def numbered_scripts(repo: Path) -> dict[str, list[Path]]:
    """{gallery: [script, ...]} in the order they run."""
    return {
        name: sorted((repo / folder).glob(pattern), key=lambda p: natural_key(p.name))
        for name, (folder, pattern) in GALLERIES.items()
    }


def _write_if_changed(data: bytes, target: Path) -> bool:
    if target.is_file() and target.read_bytes() == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return True


def settings_mode() -> str:
    """'quick' when the scripts run with their reduced settings (ML_TUTORIAL_QUICK=1), else 'default'."""
    quick = os.environ.get("ML_TUTORIAL_QUICK", "").strip().lower() in ("1", "true", "yes", "on")
    return "quick" if quick else "default"


def build_key() -> str:
    """What the generated pages depend on besides the staged scripts' text: their settings, the code
    here that makes the animation and sphinx-gallery's version."""
    import sphinx_gallery

    here = Path(__file__).parent
    code = b"".join((here / name).read_bytes() for name in ("gallery_tools.py", "trajectory_movie.py"))
    digest = hashlib.sha1(code).hexdigest()[:12]
    return f"settings={settings_mode()} gallery_tools={digest} sphinx-gallery={sphinx_gallery.__version__}"


def forget_stale_results(docs: Path) -> None:
    """sphinx-gallery's md5 cache knows only the scripts' text: when the build key changed (e.g. a
    quick build after a default one) every script must run again."""
    marker = docs / STAGING / "build_key.txt"
    key = build_key()
    if not marker.is_file() or marker.read_text().strip() != key:
        for gallery in GALLERY_DIRS:
            for md5 in (docs / gallery).glob("*.py.md5"):
                md5.unlink()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n")


def stage(docs: Path, repo: Path, outputs_exist: bool = True) -> dict[str, list[Path]]:
    """Write the pages' sources (``page_source`` of each script) and the gallery headers to where
    sphinx-gallery reads them.

    In a chained gallery (SchNet: each script reads what the one before wrote) a script that runs
    again makes every later one run again too; so does a missing output folder.
    """
    forget_stale_results(docs)
    found = numbered_scripts(repo)
    quick = settings_mode() == "quick"
    for name, scripts in found.items():
        folder = docs / STAGING / name
        folder.mkdir(parents=True, exist_ok=True)
        _write_if_changed((docs / HEADERS / f"{name}.rst").read_bytes(), folder / "GALLERY_HEADER.rst")
        rerun = name in CHAINED and not outputs_exist
        for script in scripts:
            target = folder / script.name
            md5 = docs / "auto_examples" / name / f"{script.name}.md5"
            text = page_source(script.read_text(encoding="utf-8"), script.stem, quick=quick)
            changed = _write_if_changed(text.encode("utf-8"), target)
            rerun = rerun or (name in CHAINED and (changed or not md5.is_file()))
            if rerun:
                md5.unlink(missing_ok=True)
        keep = {script.name for script in scripts}
        for old in folder.glob("*.py"):  # a script that was renamed or removed in the project
            if old.name not in keep:
                old.unlink()
    lessons = [(name, script) for name, scripts in found.items() for script in scripts]
    _write_if_changed(teacher_table(repo, lessons, LESSON_TITLES).encode("utf-8"), docs / EXERCISE_TABLE)
    readme = repo / ETHANOL_README
    target = docs / ETHANOL_README_COPY
    if readme.is_file():
        _write_if_changed(readme.read_bytes(), target)
    elif not target.is_file():
        target.write_text(f"({ETHANOL_README} is missing in {repo})\n", encoding="utf-8")
    return found


# ---------------------------------------------------------------------------------------------
# Downloads: the project's own files
# ---------------------------------------------------------------------------------------------
def restore_downloads(outdir: Path, repo: Path) -> int:
    """The ``.py`` downloads are the staged copies (reST prose): put the project's scripts there
    instead, as the student has them (``# %% 1 Data`` cells for Spyder and VS Code)."""
    count = 0
    for scripts in numbered_scripts(repo).values():
        for script in scripts:
            for download in Path(outdir).glob(f"_downloads/*/{script.name}"):
                shutil.copyfile(script, download)
                count += 1
    return count


# ---------------------------------------------------------------------------------------------
# A script that stops (sys.exit, the scripts' one-line ``error: ...``) is a failed build
# ---------------------------------------------------------------------------------------------
_state = {"start": 0.0, "seen": set(), "running": None, "finished": False}


def note_script(gallery_conf, fname, when=None):
    """A ``reset_modules`` entry (``reset_modules_order = "both"``): which script runs, and since when
    (the files newer than its start are its own)."""
    if when == "after":
        _state["running"] = None
        return
    _state["start"] = time.time() - 1.0
    _state["seen"] = set()
    _state["running"] = str(fname)


def note_build_finished(*_args) -> None:
    _state["finished"] = True


def stop_if_a_script_exited() -> None:
    """At exit (``atexit``): sphinx-gallery catches a script's exceptions but not ``SystemExit``,
    which ends Sphinx in the middle of the script, with the script's exit code (0 for
    ``sys.exit(0)``: a build that says it worked). A build that ends while a script runs (that, or
    an error in the script) ends with one line that names the script, and exit code 1."""
    if _state["running"] and not _state["finished"]:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 (a closed stream at exit)
                pass
        name = Path(_state["running"]).name
        sys.__stderr__.write(
            f"\nerror: the build stopped while {name} ran (an error above, or sys.exit/SystemExit "
            "in the script); the site was not built\n"
        )
        sys.__stderr__.flush()
        os._exit(1)


# ---------------------------------------------------------------------------------------------
# The trajectory's animation (SchNet script3)
# ---------------------------------------------------------------------------------------------
# The scripts whose page shows their MD trajectory as an animation
TRAJECTORY_GIFS = re.compile(r"script\d+_run_md$")


def _new_files(folder: Path, pattern: str) -> list[Path]:
    """Files written since the script started, each content once (script3 also copies its run to
    simulation.traj: the same movie)."""
    found = []
    if folder.is_dir():
        for path in sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime):
            if path.stat().st_mtime < _state["start"]:
                continue
            digest = hashlib.sha1(path.read_bytes()).hexdigest()
            if digest not in _state["seen"]:
                _state["seen"].add(digest)
                found.append(path)
    return found


def _fs_per_frame(example_globals: dict) -> float | None:
    """Time between two trajectory frames, from the script's settings (TIMESTEP_FS x TRAJ_INTERVAL)."""
    try:
        return float(example_globals["TIMESTEP_FS"]) * int(example_globals.get("TRAJ_INTERVAL", 1))
    except (KeyError, TypeError, ValueError):
        return None


def trajectory_gif_scraper(block, block_vars, gallery_conf) -> str:
    """An image scraper: the animated GIFs the script wrote since it started and, for script3, one
    drawn (``trajectory_movie.write_movie``) from each new MD trajectory (``.traj``) it wrote."""
    from PIL import Image
    from sphinx_gallery.scrapers import figure_rst

    from common.runs import ASE_CALCS_DIR as ase_calcs  # under ML_TUTORIAL_OUTPUT (the build's)

    gifs = _new_files(ase_calcs, "*.gif")
    if TRAJECTORY_GIFS.search(Path(block_vars["src_file"]).stem):
        from trajectory_movie import write_movie

        fs_per_frame = _fs_per_frame(block_vars.get("example_globals", {}))
        for traj in _new_files(ase_calcs, "*.traj"):
            gif = ase_calcs / "docs_gifs" / traj.with_suffix(".gif").name
            gif.parent.mkdir(exist_ok=True)
            write_movie(traj, gif, fs_per_frame=fs_per_frame)
            gifs.append(gif)
    paths = []
    for gif in gifs:
        png = Path(next(block_vars["image_path_iterator"]))  # ..._00N.png: for the thumbnail
        with Image.open(gif) as image:
            image.seek(0)
            image.convert("RGB").save(png)
        target = png.with_suffix(".gif")
        shutil.copyfile(gif, target)
        paths.append(target)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""


# ---------------------------------------------------------------------------------------------
# The home page's cards: one figure per gallery, leading to it
# ---------------------------------------------------------------------------------------------
def _card_image(docs: Path, gallery: str) -> Path | None:
    images = docs / "auto_examples" / gallery / "images"
    stem, number = HOME_CARD_FIGURE.get(gallery, ("", 1))
    found = sorted(images.glob(f"sphx_glr_{stem}_[0-9][0-9][0-9].*")) if stem else []
    gifs = [p for p in found if p.suffix == ".gif"]
    pngs = [
        p.with_suffix(".gif") if p.with_suffix(".gif") in gifs else p for p in found if p.suffix == ".png"
    ]
    if pngs:
        return pngs[number - 1] if number > 0 and number <= len(pngs) else pngs[-1]
    every = sorted(images.glob("sphx_glr_*_[0-9][0-9][0-9].png"), key=lambda p: natural_key(p.name))
    return every[0] if every else None


def write_home_cards(docs: Path, descriptions: dict[str, str]) -> str:
    """``auto_examples/home_cards.inc``: a card per gallery (its figure, its title, one sentence),
    each leading to the gallery; a gallery without figures (``-D plot_gallery=0``) gets a text card."""
    out = [".. container:: home-cards", ""]
    for gallery in GALLERIES:
        image = _card_image(docs, gallery)
        out += ["   .. container:: home-card", ""]
        if image is not None:
            rel = image.relative_to(docs).as_posix()
            out += [
                f"      .. image:: /{rel}",
                f"         :alt: {GALLERY_TITLES[gallery]}",
                f"         :target: auto_examples/{gallery}/index.html",
                "",
            ]
        out += [
            "      .. rst-class:: home-card-title",
            "",
            f"      :doc:`{GALLERY_TITLES[gallery]} <auto_examples/{gallery}/index>`",
            "",
            f"      {descriptions.get(gallery, '')}",
            "",
        ]
    text = "\n".join(out) + "\n"
    _write_if_changed(text.encode("utf-8"), docs / HOME_CARDS)
    return text


# ---------------------------------------------------------------------------------------------
# Printed paths: the build's folders -> the paths a student sees
# ---------------------------------------------------------------------------------------------
def strip_build_paths(text: str, output_root: Path, repo: Path, docs: Path) -> str:
    """The build's folders -> the paths a student sees: '/.../docs/_build/outputs/figures/x.png' ->
    'figures/x.png', a staged copy '.../_scripts/schnet/script2_train_schnet.py' ->
    'schnet_tutorial/script2_train_schnet.py', '/.../project/common/x.py' -> 'common/x.py'."""
    roots = {str(output_root): "", str(repo): ""}
    for name, (folder, _) in GALLERIES.items():
        roots[str(docs / STAGING / name)] = "" if folder == "." else folder + "/"
    for root in sorted(roots, key=len, reverse=True):
        for sep in {os.sep, "/"}:
            text = text.replace(root + sep, roots[root])
    return text
