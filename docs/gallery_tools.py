"""The machinery behind docs/conf.py: which scripts become pages, and how they read.

* ``stage``: copies the numbered scripts (``lj_[0-9]*.py`` in the project folder,
  ``schnet_tutorial/script[0-9]*.py``) and the gallery headers into ``docs/auto_examples/_scripts``,
  where sphinx-gallery finds them. Copies are rewritten only when their text changed, so
  sphinx-gallery's md5 cache reruns only the scripts that changed. The downloads are these copies:
  the very files of the project.
* ``split_with_cell_titles``: sphinx-gallery drops the text on a ``# %%`` line; this version keeps it
  as the heading of the cell (``# %% 1 Data`` -> a section "1 Data"), and turns the docstring's first
  line (``lj_1_overfit.py: slides ...``) into the page title (``lj_1_overfit.py``).
* ``trajectory_gif_scraper``: puts the animated GIF of the MD trajectory on script3's page, after
  the cell that ran the MD: made from the ``.traj`` file with the project's own ``write_gif``
  (a GIF a script writes itself, e.g. with ``WRITE_GIF = True``, is shown too).
* ``NaturalSortKey``: lj_2 before lj_10, script2 before script10 (script2 needs script1's database,
  script3 needs script2's model: the scripts of a gallery run in this order).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path
from textwrap import dedent

# gallery folder (under auto_examples/) -> (folder of its scripts in the project, file pattern)
GALLERIES = {
    "lennard_jones": (".", "lj_[0-9]*.py"),
    "schnet": ("schnet_tutorial", "script[0-9]*.py"),
}
STAGING = Path("auto_examples") / "_scripts"  # relative to docs/
GALLERY_DIRS = [f"auto_examples/{name}" for name in GALLERIES]
EXAMPLES_DIRS = [f"{STAGING.as_posix()}/{name}" for name in GALLERIES]
CHAINED = {"schnet"}  # galleries whose scripts read what the previous ones wrote
HEADERS = Path("gallery_headers")  # docs/gallery_headers/<gallery>.rst -> GALLERY_HEADER.rst
ETHANOL_README = "schnet_tutorial/data/README.md"  # shown, not executed, on ethanol_data.md
ETHANOL_README_COPY = STAGING / "ethanol_data_README.md"

# Which image of a page is its thumbnail on the gallery index (default: the first)
THUMBNAIL_NUMBER = {
    "lj_1_overfit": 2,  # the overfitting figure rather than the descriptor
    "script3_run_md": -1,  # the energies and temperature along the MD (the first is the movie)
}


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


def _copy_if_changed(source: Path, target: Path) -> None:
    data = source.read_bytes()
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def settings_mode() -> str:
    """'quick' when the scripts run with their reduced settings (ML_TUTORIAL_QUICK=1), else 'default'."""
    quick = os.environ.get("ML_TUTORIAL_QUICK", "").strip().lower() in ("1", "true", "yes", "on")
    return "quick" if quick else "default"


def build_key() -> str:
    """What the generated pages depend on besides the scripts' text: their settings, this file (how
    the prose is turned into reST) and sphinx-gallery's version."""
    import hashlib

    import sphinx_gallery

    this = hashlib.sha1(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"settings={settings_mode()} gallery_tools={this} sphinx-gallery={sphinx_gallery.__version__}"


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
    """Copy the numbered scripts and the gallery headers to where sphinx-gallery reads them.

    In a chained gallery (SchNet: each script reads what the one before wrote) a script that runs
    again makes every later one run again too; so does a missing output folder.
    """
    forget_stale_results(docs)
    found = numbered_scripts(repo)
    for name, scripts in found.items():
        folder = docs / STAGING / name
        folder.mkdir(parents=True, exist_ok=True)
        _copy_if_changed(docs / HEADERS / f"{name}.rst", folder / "GALLERY_HEADER.rst")
        rerun = name in CHAINED and not outputs_exist
        for script in scripts:
            target = folder / script.name
            md5 = docs / "auto_examples" / name / f"{script.name}.md5"
            changed = not target.is_file() or target.read_bytes() != script.read_bytes()
            rerun = rerun or (name in CHAINED and (changed or not md5.is_file()))
            if rerun:
                md5.unlink(missing_ok=True)
            _copy_if_changed(script, target)
        keep = {script.name for script in scripts}
        for old in folder.glob("*.py"):  # a script that was renamed or removed in the project
            if old.name not in keep:
                old.unlink()
    readme = repo / ETHANOL_README
    target = docs / ETHANOL_README_COPY
    if readme.is_file():
        _copy_if_changed(readme, target)
    elif not target.is_file():
        target.write_text(f"({ETHANOL_README} is missing in {repo})\n", encoding="utf-8")
    return found


# ---------------------------------------------------------------------------------------------
# Prose: cell titles as headings, the file name as the page title
# ---------------------------------------------------------------------------------------------
CELL_PATTERN = re.compile(
    r"(?P<header_line>^#{20,}.*|^# ?%%.*)\s(?P<text_content>(?:^#.*\s?)*)", flags=re.M
)  # sphinx-gallery's own pattern (py_source_parser)
UNDERLINE = {1: "=", 2: "-"}


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


def titled_docstring(docstring: str) -> str:
    """'lj_1_overfit.py: slides "..." (1-8).' -> a title 'lj_1_overfit.py' and that sentence.

    A docstring that already starts with a reST title is left alone.
    """
    text = docstring.strip("\n")
    lines = text.splitlines()
    if len(lines) > 1 and re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}", lines[1].strip()):
        return docstring
    first, _, rest = text.partition("\n\n")
    first = " ".join(first.split())
    match = re.match(r"^(\S+\.py):\s+(.*)$", first)
    if match:
        return _heading(match.group(1), 1) + _sentence(match.group(2)) + "\n\n" + rest
    return _heading(first.rstrip("."), 1) + rest


LIST_ITEM = re.compile(r"^\s*([*+-]|\d+[.)]|#\.)\s")
INLINE_LITERAL = re.compile(r"(``.+?``)")


def _escape_bars(line: str) -> str:
    """'mean |F|' is plain text, not a reST substitution: escape | outside ``literals``."""
    parts = INLINE_LITERAL.split(line)
    return "".join(part if i % 2 else part.replace("|", "\\|") for i, part in enumerate(parts))


def prose_rst(text: str) -> str:
    """Comment prose as reST that reads as written.

    * Indented lines under a sentence (a formula, an aligned table) become a literal block, not a
      reST definition list with warnings; indented lines under a ``::`` line or a directive keep their
      reST meaning; an indented bullet list becomes a list.
    * A list gets the blank lines reST wants before and after it.
    * ``|`` is escaped: the scripts' prose has no reST substitutions (``mean |F|``).
    """
    out: list[str] = []
    mode = "text"  # "text", "literal" (indented lines as written), "rst" (reST's own), "list"
    in_list = False  # the previous text line belongs to a list item
    last, indent = "", 0

    def blank_line():
        if out and out[-1].strip():
            out.append("")

    for line in text.splitlines():
        blank = not line.strip()
        indented = not blank and line[:1] in (" ", "\t")
        if indented and mode == "text":
            if in_list or last.endswith("::") or last.startswith(".."):
                mode = "rst"
            elif LIST_ITEM.match(line):
                mode, indent, in_list = "list", len(line) - len(line.lstrip()), True
                blank_line()
            else:
                mode = "literal"
                blank_line()
                out += ["::", ""]
        elif not indented and not blank:
            if mode != "text":
                blank_line()
            mode = "text"
            item = bool(LIST_ITEM.match(line))
            if item != in_list or (in_list and not item and out and not out[-1].strip()):
                blank_line()
            in_list = item
            last = line.strip()
        if mode == "list" and not blank:
            line = line[indent:] if line[:indent].strip() == "" else line.lstrip()
            if not LIST_ITEM.match(line) and line[:1] not in (" ", "\t"):
                line = "  " + line  # the item's continuation
        out.append(line if mode == "literal" else _escape_bars(line))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def split_with_cell_titles(source_file, return_node=False):
    """sphinx_gallery.py_source_parser.split_code_and_text_blocks, keeping the ``# %%`` titles."""
    from sphinx_gallery import py_source_parser as parser

    docstring, rest, lineno, node = parser._get_docstring_and_rest(Path(source_file))
    blocks = [parser.Block("text", titled_docstring(prose_rst(docstring)), 1)]
    file_conf = parser.extract_file_config(rest)
    stem = Path(source_file).stem
    if stem in THUMBNAIL_NUMBER:
        file_conf.setdefault("thumbnail_number", THUMBNAIL_NUMBER[stem])

    pos = 0
    for match in CELL_PATTERN.finditer(rest):
        code = rest[pos : match.start()]
        if code.strip():
            blocks.append(parser.Block("code", code, lineno))
        lineno += code.count("\n")
        lineno += 1  # the ``# %%`` line
        text_content = match.group("text_content")
        text = dedent(re.sub("^#", "", text_content, flags=re.M)).lstrip()
        text = cell_title_rst(match.group("header_line")) + prose_rst(text)
        if text.strip():
            blocks.append(parser.Block("text", text, lineno))
        lineno += text_content.count("\n")
        pos = match.end()
    if rest[pos:].strip():
        blocks.append(parser.Block("code", rest[pos:], lineno))
    if return_node:
        return file_conf, blocks, node
    return file_conf, blocks


def install_cell_titles() -> None:
    """Make sphinx-gallery (its pages, notebooks and sort keys) use ``split_with_cell_titles``."""
    from sphinx_gallery import notebook, py_source_parser, sorting

    for module in (py_source_parser, notebook, sorting):
        module.split_code_and_text_blocks = split_with_cell_titles


# ---------------------------------------------------------------------------------------------
# A script that stops (sys.exit, the scripts' one-line ``error: ...``) is a failed script
# ---------------------------------------------------------------------------------------------
class ScriptStopped(RuntimeError):
    """A script ended with SystemExit: sphinx-gallery reports it like any error (and the build fails)."""


def install_exit_as_error() -> None:
    """Without this a SystemExit inside a script would end Sphinx itself, silently."""
    from sphinx_gallery import gen_rst

    if getattr(gen_rst._exec_once, "exit_as_error", False):
        return

    class ExecOnce(gen_rst._exec_once):
        exit_as_error = True

        def __call__(self):
            try:
                super().__call__()
            except SystemExit as exc:
                said = getattr(sys.stdout, "output", None)  # sphinx-gallery's capture of the output
                last = said.getvalue().strip().splitlines()[-3:] if said is not None else []
                raise ScriptStopped(
                    f"the script stopped with exit code {exc.code}"
                    + "".join(f"\n    {line}" for line in last)
                ) from None

    gen_rst._exec_once = ExecOnce


# ---------------------------------------------------------------------------------------------
# The trajectory's animated GIF (SchNet script3)
# ---------------------------------------------------------------------------------------------
# The scripts whose page shows their MD trajectory as an animation (made here if they wrote none)
TRAJECTORY_GIFS = {"script3_run_md"}
_state = {"start": 0.0, "seen": set()}


def note_script_start(gallery_conf, fname, when=None):
    """A ``reset_modules`` entry: remember when each script starts (newer files are its own)."""
    _state["start"] = time.time() - 1.0
    _state["seen"] = set()


def _new_files(folder: Path, pattern: str) -> list[Path]:
    """Files written since the script started, each content once (script3 also copies its run to
    simulation.traj: the same movie)."""
    import hashlib

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


def write_gif(traj: Path, gif: Path) -> None:
    """The project's own GIF writer (schnet_tutorial.tools or md_tools), else ASE's directly."""
    for name in ("schnet_tutorial.tools", "schnet_tutorial.md_tools"):
        try:
            module = __import__(name, fromlist=["write_gif"])
        except ImportError:
            continue
        if hasattr(module, "write_gif"):
            module.write_gif(traj, gif)
            return
    import matplotlib.pyplot as plt
    from ase.io import read
    from ase.io.animation import write_animation

    images = read(str(traj), index=":")
    images = images[:: -(-len(images) // 100)]  # at most 100 frames
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.set_axis_off()
    try:
        write_animation(str(gif), images, writer="pillow", interval=50, ax=ax, rotation="-70x,20y")
    finally:
        plt.close(fig)


def trajectory_gif_scraper(block, block_vars, gallery_conf) -> str:
    """An image scraper: the animated GIFs the script wrote since it started and, for the scripts in
    TRAJECTORY_GIFS, one made from each new MD trajectory (``.traj``) it wrote."""
    from PIL import Image
    from sphinx_gallery.scrapers import figure_rst

    from common.runs import ASE_CALCS_DIR as ase_calcs  # under ML_TUTORIAL_OUTPUT (the build's)

    gifs = _new_files(ase_calcs, "*.gif")
    if Path(block_vars["src_file"]).stem in TRAJECTORY_GIFS:
        for traj in _new_files(ase_calcs, "*.traj"):
            gif = ase_calcs / "docs_gifs" / traj.with_suffix(".gif").name
            gif.parent.mkdir(exist_ok=True)
            write_gif(traj, gif)
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
