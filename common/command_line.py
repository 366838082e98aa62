"""A script's settings block and its command line: which names are settings, ``--name value``
overrides, ``--quick``, and ``--help``. ``common.settings.setup`` uses these; see its docstring."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .errors import fail
from .rules import RULES, Rule


def quick_option(argv: list[str]) -> tuple[list[str], bool | None]:
    """The arguments without ``--quick`` (also ``--quick=1``, ``--quick true``, ``--quick=0``), and
    what it asked for: True, False, or None when it is not there (ML_TUTORIAL_QUICK decides)."""
    rest, asked, i = [], None, 0
    while i < len(argv):
        key, eq, value = argv[i].partition("=")
        if key.lower().replace("_", "-") == "--quick":
            if not eq and i + 1 < len(argv) and argv[i + 1].lower() in _BOOL_WORDS:
                i, value = i + 1, argv[i + 1]  # --quick true
            word = value.strip().lower() if (eq or value) else "true"
            if word not in _BOOL_WORDS:
                fail(f"--quick takes no value (or =1, =true, =0, =false), got {argv[i]!r}")
            asked = _truthy(word)
        else:
            rest.append(argv[i])
        i += 1
    return rest, asked


TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")  # True/False settings
_BOOL_WORDS = TRUE_WORDS + FALSE_WORDS


def command_line(namespace: dict) -> list[str]:
    """The script's own command-line arguments, or [] when it does not run as a program.

    A script runs as a program when ``sys.argv[0]`` is its own file: ``python x.py``, Spyder's
    runfile and IPython's ``%run`` all set both. In a notebook or an interactive window there is no
    ``__file__`` (or ``sys.argv`` is the kernel's: ``ipykernel_launcher.py -f ...``).
    """
    file = namespace.get("__file__")
    if not file or not sys.argv or not sys.argv[0]:
        return []
    try:
        same = Path(sys.argv[0]).resolve() == Path(file).resolve()
    except OSError:
        return []
    return list(sys.argv[1:]) if same else []


def _truthy(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


def settings_of(namespace: dict) -> list[str]:
    """The script's settings, in order: the UPPERCASE constants of plain values (numbers, text,
    True/False, lists, tuples) that its settings block defines, between the ``# %% Settings`` header
    and the ``setup(...)`` line (read from the script's file). A name the script imports (a
    TensorBoard tag, a folder, a table of a module) is never a setting. Without the file (a
    notebook): the UPPERCASE plain values of the namespace that are not a project module's own."""
    simple = (int, float, str, bool, list, tuple)
    block = settings_block(namespace.get("__file__"))
    if block is None:
        block = [n for n in namespace if n.isupper() and not n.startswith("_")]
        block = [n for n in block if not _imported(n, namespace[n])]
    return [n for n in block if n in namespace and isinstance(namespace[n], simple)]


def _imported(name: str, value) -> bool:
    """True when ``value`` is the project modules' own constant ``name`` (imported, not defined)."""
    if name in RULES and isinstance(value, (int, float, str, bool)):
        return False  # a setting's name and a plain value: the script's own (small ints are shared)
    return any(
        vars(mod).get(name, _imported) is value
        for key, mod in list(sys.modules.items())
        if key.split(".")[0] in ("common", "schnet_tutorial", "solutions") and hasattr(mod, "__dict__")
    )


_BLOCKS: dict = {}  # (file, modification time) -> the names of its settings block


def settings_block(file) -> list[str] | None:
    """The UPPERCASE names a script's settings block assigns, in order, from its file: the top-level
    assignments after the ``# %% Settings`` line and before the ``setup(...)`` line; None without a
    readable file with such a line."""
    import ast

    try:
        path = Path(file)
        key = (str(path.resolve()), path.stat().st_mtime_ns)
    except (OSError, TypeError, ValueError):
        return None
    if key not in _BLOCKS:
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, SyntaxError, ValueError):
            return None
        lines = text.splitlines()
        start = next((i + 1 for i, line in enumerate(lines) if line.startswith("# %% Settings")), 0)
        names, found = [], False
        for node in tree.body:
            call = node.value if isinstance(node, ast.Expr) else None
            function = getattr(call, "func", None)
            if getattr(function, "id", getattr(function, "attr", "")) == "setup":
                found = True
                break
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.lineno > start:
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    for item in getattr(target, "elts", [target]):
                        name = getattr(item, "id", "")
                        if name.isupper() and not name.startswith("_") and name not in names:
                            names.append(name)
        _BLOCKS[key] = names if found else None
    return _BLOCKS[key]


def option(name: str) -> str:
    return "--" + name.lower().replace("_", "-")


def usage(namespace: dict, script: str) -> str:
    """--help: every setting with its value, what values it takes, and the comment it has at the top
    of the script (its unit)."""
    lines = [
        f"{script}: settings (edit them at the top of the script, or --name value here; a list as "
        "--name 10 20 40 or --name 10,20,40; --name=value works too)"
    ]
    comments = setting_comments(namespace.get("__file__"))
    for name in settings_of(namespace):
        rule = RULES.get(name)
        lines.append(f"  {option(name):26s} {namespace[name]!r}  ({describe(rule)})")
        if comments.get(name):
            lines.append(f"  {'':26s} {comments[name]}")
    lines.append(f"  {'--quick':26s} the reduced settings of the tests and the docs (also --quick=1,")
    lines.append(f"  {'':26s} or ML_TUTORIAL_QUICK=1; --quick=0: the settings above)")
    lines.append(f"  {'--help':26s} this list")
    return "\n".join(lines)


def setting_comments(file) -> dict[str, str]:
    """{name: the comment on its line} of a script's settings (none without the file: a notebook)."""
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, TypeError):
        return {}
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_, ]*) = .*?#\s*(.+)$", line)
        if match:
            for name in match.group(1).split(","):
                found[name.strip()] = match.group(2).strip()
    return found


def convert(text: str, rule: Rule | None, default):
    """Turn the command-line text into a value of the setting's type."""
    kind = rule.kind if rule else type(default)
    if kind is bool:
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(text)
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    if kind in (list, tuple):
        item = rule.item if rule else (type(default[0]) if default else str)
        parts = re.split(r"[,\s]+", text.strip().strip("[]()"))
        return kind(item(p.strip("'\"")) for p in parts if p.strip())
    return text


def apply_overrides(namespace: dict, argv: list[str], script: str) -> list[str]:
    """Set the settings named on the command line (``--name value`` or ``--name=value``)."""
    rules, names, changed = RULES, settings_of(namespace), []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and not arg.startswith("--") and not _is_number(arg):
            fail(f"unknown option {arg}: options start with two dashes, e.g. --epochs 100 (--help: all)")
        if not arg.startswith("--") or arg == "--":
            name = arg.partition("=")[0].replace("-", "_").upper()
            example = f"--{arg}" if name in names and "=" in arg else "--epochs 100"
            fail(f"unexpected argument {arg!r}; use --name value, e.g. {example} (--help lists them)")
        key, eq, value = arg[2:].partition("=")
        name = key.replace("-", "_").upper()
        if name not in names:
            fail(unknown_option(key, names))
        is_flag = (rules.get(name) or Rule(type(namespace[name]))).kind is bool
        if not eq and is_flag and (i + 1 >= len(argv) or argv[i + 1].startswith("--")):
            value = "true"  # a True/False setting alone: --force means --force true
        elif not eq:
            if i + 1 >= len(argv):
                fail(f"option {arg} needs a value, e.g. {option(name)} {namespace[name]!r}")
            i += 1
            value = argv[i]
        while is_list(rules.get(name)) and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            i += 1  # a list: --train-sizes 10 20 40 (or --train-sizes=10 20 40)
            value += "," + argv[i]
        try:
            namespace[name] = convert(value, rules.get(name), namespace[name])
        except ValueError:
            fail(f"{name} must be {describe(rules.get(name))}, got {value!r} ({option(name)})")
        changed.append(name)
        i += 1
    return changed


def unknown_option(key: str, names: list[str]) -> str:
    """The one line for an option the script does not have: the nearest one, and all of them."""
    import difflib

    known = [option(n) for n in names] + ["--quick", "--help"]
    near = difflib.get_close_matches(option(key), known, n=1, cutoff=0.75)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"unknown option {option(key)}{hint}; options are: " + ", ".join(known)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_list(rule: Rule | None) -> bool:
    return rule is not None and rule.kind in (list, tuple)


def describe(rule: Rule | None) -> str:
    if rule is None:
        return "a value of the default's type"
    return rule.says or {int: "an integer", float: "a number", bool: "True or False"}.get(rule.kind, "text")
