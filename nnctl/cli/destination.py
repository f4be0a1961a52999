"""`-o FILE` checked before any work is done: what could destroy an input or surprise the user
is refused while nothing has been computed or written (see nnctl.atomic for the writing)."""
from __future__ import annotations


def check_output(output: str | None, inputs=(), *, extensions: tuple[str, ...] = (),
                 what: str = "") -> None:
    """Refuse -o OUTPUT when it ends in '/', names a directory, is the same file as one of
    `inputs` (MODEL arguments included: `file.py:NAME` is its file), or, when `extensions`
    are given, has none of them (a device such as /dev/null or /dev/stdout has no extension
    and is accepted). Nothing to check for stdout ("-") or no -o."""
    from nnctl.atomic import check_destination, is_special
    from nnctl.errors import UsageError

    if output is None or output == "-":
        return
    check_destination(output, [_file_of(i) for i in inputs if i is not None])
    if extensions and not output.lower().endswith(extensions) and not is_special(output):
        raise UsageError(f"-o {output}: {what} is written as {' or '.join(extensions)}: "
                         f"name the file FILE{extensions[0]}")


def check_model_output(output: str, inputs=()) -> str:
    """-o FILE of a command that writes a model (build, convert), checked before any work:
    check_output, a name nnctl cannot write, and a model file's binary bytes on a terminal
    (`-o -` writes an .npz). Returns the extension that says the format."""
    from nnctl.cli.console import refuse_binary_on_terminal
    from nnctl.modelfiles import output_format

    check_output(output, inputs)
    extension = output_format(output)
    if output == "-":
        refuse_binary_on_terminal("a model file (.npz)", "give -o FILE.npz or pipe it")
    return extension


def _file_of(argument: str) -> str:
    from nnctl.cli.models import is_python_model, python_file

    return python_file(argument) if is_python_model(argument) else argument
