"""The nnctl command: assembles the commands and is the one place errors become exit codes.

Exit codes (docs/cli.md): 0 success, 1 bad input, 2 bad usage, 130 interrupted,
143 terminated. A closed downstream pipe ends the process as it ends any Unix filter.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import sys

import typer

from typer._click import exceptions as click_exceptions  # typer carries its own click

from nnctl import __version__
from nnctl.cli import commands, typerfit
from nnctl.cli.console import error_line
from nnctl.cli.tuning import collect_garbage_less_often, idle_blas_threads_sleep
from nnctl.errors import NnctlError

app = typer.Typer(
    name="nnctl",
    help="Build, inspect and run small neural networks written in Keras' vocabulary.",
    no_args_is_help=True,
    # --help as Unix tools write it (click's layout): options and their values in one column,
    # paragraphs rewrapped to the terminal's width; rich's panels cut option names short in
    # 60 columns and keep a docstring's line breaks
    rich_markup_mode=None,
    add_completion=True,  # nnctl --install-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        print(f"nnctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Build, inspect and run small neural networks written in Keras' vocabulary."""



class Terminated(BaseException):
    """SIGTERM or SIGHUP (the terminal went away), raised in the main thread so that cleanup
    (temporary files) runs; the exit status is 128 + the signal's number, as the shell's."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_terminate(signum, frame):
    raise Terminated(signum)


_NUMBER = re.compile(r"-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|-(inf|infinity|nan)$", re.IGNORECASE)


def values_not_options(command, args: list[str]) -> list[str]:
    """Let negative numbers be values: `nnctl act relu -1 2` (docs/cli.md).

    click reads `-1` as an unknown option. When a subcommand's arguments hold a token that
    looks like a negative number and is not the value of the option before it, the options
    stay in front and every positional value moves behind a `--`, in its order.
    """
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 1
    if i >= len(args) or not hasattr(command, "commands"):
        return args
    sub = command.commands.get(args[i])
    if sub is None:
        return args
    takes_value = {opt for p in sub.params if p.param_type_name == "option"
                   and not getattr(p, "is_flag", False) and not getattr(p, "count", False)
                   for opt in p.opts}
    options, positionals, negative = [], [], False
    rest = args[i + 1:]
    j = 0
    while j < len(rest):
        token = rest[j]
        if token == "--":
            positionals += rest[j + 1:]
            break
        if token in takes_value and j + 1 < len(rest):
            options += rest[j:j + 2]
            j += 2
            continue
        if _NUMBER.match(token):
            negative = True
            positionals.append(token)
        elif token.startswith("-") and token != "-":
            options.append(token)
        else:
            positionals.append(token)
        j += 1
    if not negative:
        return args
    return args[: i + 1] + options + ["--"] + positionals


def click_command():
    """The whole click group of the app, fitted with nnctl's value parsing and help."""
    commands.register(app)
    return typerfit.adopt(typer.main.get_command(app))


def _click_group(args: list[str]):
    """The click group of the app, with only the command being run when args name one: typer
    builds a command by introspecting its function, about 1 ms each, on every run, and the
    other commands' modules are not even imported. Fitted with nnctl's value parsing (fast
    start-up) and help labels (nnctl.cli.typerfit)."""
    name = next((a for a in args if not a.startswith("-")), None)
    if name not in commands.COMMANDS:  # --help, --version, a misspelt command: all of them
        return click_command()
    commands.register(app, [name])
    everything = app.registered_commands
    app.registered_commands = [c for c in everything if c.name == name]
    try:
        # what get_command builds for an app with a callback
        return typerfit.adopt(typer.main.get_group(app))
    finally:
        app.registered_commands = everything


def run(args: list[str]) -> int:
    """Run nnctl with these arguments; return the exit status. Never raises (but SIGPIPE)."""
    # --debug is taken anywhere before a `--`, before or after the command name
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    args = [a for a in args[:end] if a != "--debug"] + args[end:]
    command = _click_group(args)
    try:
        args = values_not_options(command, args)
        result = command.main(args=args, prog_name="nnctl", standalone_mode=False)
        sys.stdout.flush()
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except click_exceptions.NoArgsIsHelpError as exc:
        print(exc.format_message())  # `nnctl` alone: the help, as for --help
        return 2
    except click_exceptions.UsageError as exc:
        if debug:
            raise
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        error_line(exc.format_message().rstrip(".") + hint)
        return 2
    except typer.Abort:
        return 130
    except NnctlError as exc:
        if debug:
            raise
        error_line(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        _die_of_sigpipe()
    except SystemExit:
        # typer meets a closed stdout (EPIPE) with a silent exit(1), after wrapping
        # sys.stdout in click's PacifyFlushWrapper: end as a filter does instead
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            _die_of_sigpipe()
        raise
    except KeyboardInterrupt:
        return 130
    except Terminated as exc:
        return 128 + exc.signum
    except MemoryError:
        if debug:
            raise
        error_line("out of memory (try a smaller --batch-size or input)")
        return 1
    except OSError as exc:
        if debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        if not where and exc.errno in _FULL_DISK:  # files are named where they fail
            where = "<stdout>: "
        error_line(f"{where}{exc.strerror or exc}")
        return 1
    except Exception as exc:  # a bug of ours: still one line, the traceback with --debug
        interrupt = _interrupt_behind(exc)
        if interrupt is not None:  # a library's cleanup failed while Ctrl-C/SIGTERM unwound it
            return 130 if isinstance(interrupt, KeyboardInterrupt) else 128 + interrupt.signum
        if debug:
            raise
        error_line(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the "
                   "traceback, and please report it)")
        return 1


def _interrupt_behind(exc: BaseException):
    """The KeyboardInterrupt or Terminated during whose handling `exc` was raised, or None.

    zipfile, for one, raises "Can't close the ZIP file while there is an open writing handle"
    from its __exit__ when a signal lands as np.savez opens a member: that error hides the
    signal, which is what the user did and what the exit status must say.
    """
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, (KeyboardInterrupt, Terminated)):
            return exc
        exc, seen = exc.__context__, seen + 1
    return None


_FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _die_of_sigpipe():
    """End as a C filter does when its reader goes away: killed by SIGPIPE, saying nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    os._exit(141)  # not reached where SIGPIPE exists


class ClosedStream:
    """What a closed standard stream (`<&-`, `>&-`; Python makes it None) becomes: reading or
    writing data is an OSError naming it (one error line, exit 1), flushing nothing is fine,
    and it is no terminal. Commands that write only to -o FILE never touch it."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, name: str, what: str):
        self.name = name
        self._what = what

    def _closed(self, *args, **kwargs):
        raise OSError(errno.EBADF, f"{self._what} is closed", self.name)

    read = readline = readlines = readinto = peek = write = writelines = fileno = _closed
    __iter__ = _closed

    @property
    def buffer(self):
        return self

    @property
    def raw(self):
        return self

    def flush(self):
        pass

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return False

    def close(self):
        pass

    closed = False


def _closed_streams_made_safe() -> None:
    """Give each closed standard descriptor /dev/null, so that no file nnctl opens takes its
    number (a child such as Graphviz' dot would write into it), and its Python stream a
    ClosedStream (stderr: /dev/null, as messages have nowhere to go)."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        except OSError:
            pass
        if name == "stderr":
            sys.stderr = open(os.devnull, "w")
        else:
            stream = ClosedStream(f"<{name}>", f"standard {'input' if fd == 0 else 'output'}")
            setattr(sys, name, stream)


def _streams_never_fail_to_encode() -> None:
    """On a stdout or stderr whose encoding cannot write a character (PYTHONIOENCODING=ascii,
    a cp1252 console), write it escaped (\\u2192) rather than fail: a layer's name in a
    table, a message's arrow. Tables, drawings and charts use ASCII there already."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> None:
    """The process entry point (`nnctl`, `python -m nnctl`): runs and ends the process with
    its exit status. To run nnctl inside a Python process, call run(args), which returns it."""
    idle_blas_threads_sleep()  # before NumPy is imported
    collect_garbage_less_often()
    _closed_streams_made_safe()
    _streams_never_fail_to_encode()
    args = list(sys.argv[1:] if argv is None else argv)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) != signal.SIG_IGN:
            signal.signal(getattr(signal, name), _on_terminate)  # nohup's SIG_IGN stays
    if "--debug" not in args:
        # An interrupt inside a library's constructor (zipfile, when Ctrl-C lands in np.savez)
        # leaves a half-made object whose __del__ fails later; Python would print that
        # "Exception ignored" traceback. The interrupt itself is already reported by its exit code.
        sys.unraisablehook = lambda unraisable: None
    code = run(args)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _die_of_sigpipe()
    except OSError as exc:  # a full disk behind stdout
        error_line(f"<stdout>: {exc.strerror or exc}")
        code = code or 1
    sys.stderr.flush()
    # Everything nnctl writes is closed (files atomically, stdout flushed) by now. Python's own
    # shutdown would then spend 30-60 ms tearing down modules and the thread pools of polars
    # and OpenBLAS, which is a tenth of a forward run over a 78 MB CSV: skip it.
    os._exit(code)
