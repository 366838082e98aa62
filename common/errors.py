"""One-line errors and warnings: what every script and helper prints instead of a traceback."""

from __future__ import annotations

import sys

OPTIONAL_MISSING = 3  # the exit code of a lesson that needs an optional install (the tour skips it)


class SettingError(ValueError):
    """A bad setting: reported as one line."""


def fail(message: str, code: int = 2):
    """Print 'error: message' on stderr and stop with a non-zero exit code, without a traceback."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def warn(message: str) -> None:
    """One line ``warning: message`` on stderr: the script goes on."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def check(condition: bool, message: str) -> None:
    """Stop with a one-line error when ``condition`` is false."""
    if not condition:
        fail(message)
