"""How nnctl talks to a terminal and to a pipe (docs/cli.md), decided in one place.

stdout carries data, stderr carries messages. Rich styling only where a person is looking:
the stream is a terminal, NO_COLOR is unset and TERM is not dumb. rich is imported lazily,
because start-up time is part of the product.
"""
from __future__ import annotations

import os
import sys


def is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def stdout_is_terminal() -> bool:
    return is_terminal(sys.stdout)


def stderr_is_terminal() -> bool:
    return is_terminal(sys.stderr)


def refuse_binary_on_terminal(what: str, fix: str = "give -o FILE or pipe it") -> None:
    """Bad usage when stdout is a terminal: binary bytes there garble the screen (the user
    would need `reset`); gzip refuses too. Pipes and files are unaffected."""
    if stdout_is_terminal():
        from nnctl.errors import UsageError

        raise UsageError(f"refusing to write {what} to a terminal: {fix}")


def can_draw_lines(stream) -> bool:
    """Whether the stream's encoding has box-drawing characters (else: ASCII art)."""
    try:
        "┌─▼".encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def color_allowed(stream) -> bool:
    return (is_terminal(stream) and "NO_COLOR" not in os.environ
            and os.environ.get("TERM") != "dumb")


def rich_console(stderr: bool = False):
    """A rich Console for stdout or stderr, plain (no color, no markup codes) when piped."""
    from rich.console import Console

    class _FilterConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich exits with status 1; a closed pipe ends nnctl as a Unix filter (app.py)
            raise BrokenPipeError

    stream = sys.stderr if stderr else sys.stdout
    terminal = is_terminal(stream)
    styled = color_allowed(stream)
    # NO_COLOR (or a pipe, or TERM=dumb): no escape codes at all, bold and italics included
    return _FilterConsole(file=stream, stderr=stderr, no_color=not styled,
                   color_system="auto" if styled else None,
                   force_terminal=terminal, highlight=False, soft_wrap=not terminal,
                   width=None if terminal else 76, emoji=False)


def choose_format(requested: str | None, *, terminal: str, piped: str) -> str:
    """The output format: what the user asked for, else by whether stdout is a terminal."""
    if requested:
        return requested
    return terminal if stdout_is_terminal() else piped


def message(text: str) -> None:
    """A note for the person at the terminal (stderr); silent when stderr is not a terminal."""
    if stderr_is_terminal():
        print(f"nnctl: {one_line(text)}", file=sys.stderr)


def warn(text: str) -> None:
    """A warning: always on stderr, piped or not."""
    print(f"nnctl: warning: {one_line(text)}", file=sys.stderr)


def one_line(text: str) -> str:
    """`text` with control characters escaped (`\\n`, `\\x1e`): a name or value echoed from
    the user's input cannot break the one error line into several, nor move the cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape",
                                                       "backslashreplace").decode("ascii")
                   for c in text)


def error_line(text: str) -> None:
    text = one_line(text)
    if color_allowed(sys.stderr):
        print(f"nnctl: \x1b[1;31merror:\x1b[0m {text}", file=sys.stderr)
    else:
        print(f"nnctl: error: {text}", file=sys.stderr)
