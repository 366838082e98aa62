"""The scripts' comment prose in the two forms the site needs: reStructuredText for the pages
(``prose_rst``) and Markdown for the downloadable notebooks (``prose_md``), from the same text.

The prose is plain text with a little reST: ````literals````, ``:math:`x```, ``.. math::`` blocks, lists,
and indented lines (a formula, an aligned table) under a sentence. A notebook is Markdown: no reST
directive, role or ``::`` may reach it.
"""

from __future__ import annotations

import re

LIST_ITEM = re.compile(r"^\s*([*+-]|\d+[.)]|#\.)\s")
VERBATIM = re.compile(r"(``.+?``|:math:`[^`]+`)")
DIRECTIVE = re.compile(r"^\.\.\s+([\w-]+)::\s*(.*)$")
ROLE = re.compile(r":(?P<role>[\w-]+):`(?P<body>[^`]+)`")
REF_TEXT = re.compile(r"^(.*?)\s*<[^<>]+>$", re.S)  # :doc:`text <target>` -> text


def escape_bars(line: str) -> str:
    """'mean |F|' is plain text, not a reST substitution: escape | outside ``literals`` and math."""
    if line.lstrip().startswith(".."):
        return line  # a directive (.. math:: |x|) or a comment: reST reads it as written
    parts = VERBATIM.split(line)
    return "".join(part if i % 2 else part.replace("|", "\\|") for i, part in enumerate(parts))


def prose_rst(text: str) -> str:
    """Comment prose as reST that reads as written.

    * Indented lines under a sentence (a formula, an aligned table) become a literal block, not a
      reST definition list with warnings; indented lines under a ``::`` line or a directive keep their
      reST meaning (``.. math::``); an indented bullet list becomes a list.
    * A list gets the blank lines reST wants before and after it.
    * ``|`` is escaped outside literals, math and directives: the scripts' prose has no reST
      substitutions (``mean |F|``).
    """
    out: list[str] = []
    mode = "text"  # "text", "literal" (indented lines as written), "raw" (a directive's or a ::
    # block's content), "rst" (a list item's continuation), "list"
    in_list = False  # the previous text line belongs to a list item
    last, indent = "", 0

    def blank_line():
        if out and out[-1].strip():
            out.append("")

    for line in text.splitlines():
        blank = not line.strip()
        indented = not blank and line[:1] in (" ", "\t")
        if indented and mode == "text":
            if last.endswith("::") or last.startswith(".."):
                mode = "raw"
            elif in_list:
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
        out.append(line if mode in ("literal", "raw") else escape_bars(line))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


# ---------------------------------------------------------------------------------------------
# Markdown (the notebooks)
# ---------------------------------------------------------------------------------------------
def _role_md(match: re.Match) -> str:
    role, body = match.group("role"), match.group("body")
    if role == "math":
        return f"${body}$"
    text = REF_TEXT.match(body)
    if role in ("doc", "ref", "numref", "term"):
        return (text.group(1) if text else body).strip()
    if role == "sup":
        return f"<sup>{body}</sup>"
    if role == "sub":
        return f"<sub>{body}</sub>"
    return f"`{body}`"  # :class:`x`, :func:`x`, ... : code


def inline_md(line: str) -> str:
    """One line of reST prose as Markdown: roles (``:math:`x``` -> ``$x$``), escapes, ``::``."""
    parts = re.split(r"(``.+?``)", line)  # literals stay as they are (CommonMark reads ``x``)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            part = ROLE.sub(_role_md, part)
            part = re.sub(r"\\ ", "", part)  # reST's escaped space (cm\ :sup:`-1`)
            part = re.sub(r"\\([|*_`\\])", r"\1", part)
        out.append(part)
    line = "".join(out)
    if line.rstrip().endswith("::"):  # "as follows::" -> "as follows:"; a bare "::" disappears
        line = line.rstrip()[:-1].rstrip(" :") + (":" if line.strip() != "::" else "")
    return line


def _fence(lines: list[str], info: str = "text") -> list[str]:
    body = _dedent(lines)
    while body and not body[-1].strip():
        body.pop()
    return [f"```{info}", *body, "```"]


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return [line[cut:] for line in lines]


def prose_md(text: str) -> str:
    """Comment prose as Markdown (CommonMark, as Jupyter renders it), with the meaning ``prose_rst``
    gives it: indented lines under a sentence or a ``::`` line -> a code block, kept aligned;
    ``.. math::`` -> ``$$ ... $$``; any other directive -> its text (an admonition as a quote with
    its title in bold); a reST comment or target (``.. _label:``) -> nothing; roles -> Markdown;
    a list gets a blank line before it."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0

    def blank_line():
        if out and out[-1].strip():
            out.append("")

    def block(start: int) -> tuple[list[str], int]:
        """The indented lines (and blank lines between them) from ``start``."""
        j, found = start, []
        while j < len(lines) and (not lines[j].strip() or lines[j][:1] in (" ", "\t")):
            found.append(lines[j])
            j += 1
        while found and not found[-1].strip():
            found.pop()
        return found, start + len(found)

    in_list = False
    while i < len(lines):
        line = lines[i]
        directive = DIRECTIVE.match(line.strip()) if line[:1] not in (" ", "\t") else None
        if directive:
            name, argument = directive.groups()
            body, i = block(i + 1)
            options = [b for b in body if re.match(r"^\s+:[\w-]+:", b)]
            content = [b for b in body if b not in options]
            blank_line()
            if name == "math":
                formula = ([argument] if argument else []) + [b.strip() for b in content if b.strip()]
                out += ["$$", *formula, "$$"]
            elif name == "raw":
                out += _dedent(content) if "html" in argument else []
            elif name in ("rst-class", "class", "index", "highlight", "currentmodule") or not content:
                pass  # a page's styling, nothing to read
            elif name in ("code-block", "code", "sourcecode"):
                out += _fence(content, argument or "python")
            else:
                title = argument if name == "admonition" else name.replace("-", " ").capitalize()
                quote = [inline_md(b) for b in _dedent(content)]
                while quote and not quote[0].strip():
                    quote.pop(0)
                quote = ([f"**{inline_md(title)}.**", ""] if title else []) + quote
                out += [("> " + q).rstrip() for q in quote]
            out.append("")
            in_list = False
            continue
        if line.startswith(".."):  # a comment or a link target: not shown
            _, i = block(i + 1)
            continue
        indented = line[:1] in (" ", "\t") and bool(line.strip())
        if indented and not in_list and not LIST_ITEM.match(line):
            body, i = block(i)
            blank_line()
            out += _fence(body)
            out.append("")
            continue
        if LIST_ITEM.match(line) and not in_list:
            blank_line()
            in_list = True
        elif line.strip() and not indented and in_list and out and not out[-1].strip():
            in_list = False  # a paragraph after the list
        out.append(inline_md(line))
        i += 1
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out))  # one blank line between blocks
    return text.strip("\n") + "\n"
