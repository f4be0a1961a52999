"""nnctl's own fit of typer: fast value parsing (fastparams) and Unix-style help (helptext).

Both reach into typer's private classes, so they are contained: they apply only to the click
objects of nnctl's own app (each takes a subclass of its typer class, made here), only on the
typer versions they were tested with and only when every private name they use is there;
otherwise, or with NNCTL_TYPER_FIT=0 in the environment, nnctl runs on typer's own path
(pydantic coercion, typer's help labels), slower to start and plainer in --help, but whole.
"""
from __future__ import annotations

import functools
import os

TESTED = ((0, 29), (0, 30))   # typer minor releases the fit was tested with


def adopt(group):
    """Give nnctl's click group, its commands and their parameters nnctl's classes."""
    classes = _classes()
    if classes is None:
        return group
    for command in (group, *getattr(group, "commands", {}).values()):
        if type(command) in classes:
            command.__class__ = classes[type(command)]
        for param in command.params:
            if type(param) in classes:
                param.__class__ = classes[type(param)]
    return group


def enabled() -> bool:
    return os.environ.get("NNCTL_TYPER_FIT", "1") != "0" and _classes() is not None


@functools.cache
def _classes() -> dict | None:
    """{typer class: nnctl's subclass of it}, or None where the fit does not apply."""
    if os.environ.get("NNCTL_TYPER_FIT", "1") == "0":
        return None
    try:
        import typer
        from typer import core

        version = tuple(int(part) for part in typer.__version__.split(".")[:2])
        if version not in TESTED:
            return None
        needed = [(core._TyperParameter, "get_runtime_param"),
                  (core._TyperParameter, "_runtime_param"),
                  (core.TyperOption, "display_type_rich"),
                  (core.TyperOption, "_get_number_range_help_str"),
                  (core.TyperArgument, "display_name_raw"),
                  (core.TyperArgument, "_usage_display_name"),
                  (core.TyperCommand, "get_short_help_str"), (core.TyperGroup, "get_short_help_str"),
                  (core.TyperCommand, "get_help_option")]
        if not all(hasattr(owner, name) or name in getattr(owner, "__annotations__", {})
                   for owner, name in needed):
            return None
        from typer._click.exceptions import BadParameter  # noqa: F401  (used by fastparams)
        from typer._coercion import RuntimeParam  # noqa: F401
        from typer._param_types import coerce_cli_choice  # noqa: F401
    except (ImportError, AttributeError, ValueError):
        return None
    return _make_classes(core)


def _make_classes(core) -> dict:
    from nnctl.cli import fastparams, helptext

    def get_runtime_param(self):
        if self._runtime_param is None:
            self._runtime_param = fastparams.runtime_param(self.type_descriptor)
        return super(type(self), self).get_runtime_param()

    def short_help(self, limit: int = 45) -> str:
        return helptext.short_help(self, super(type(self), self).get_short_help_str.__func__,
                                   limit)

    option = type("NnctlOption", (core.TyperOption,), {
        "get_runtime_param": get_runtime_param,
        "display_type_rich": helptext._option_label,
        "_get_number_range_help_str": helptext._no_range})
    argument = type("NnctlArgument", (core.TyperArgument,), {
        "get_runtime_param": get_runtime_param,
        "display_name_raw": property(helptext._argument_name),
        "display_type_rich": helptext._no_label,
        "_get_number_range_help_str": helptext._no_range,
        "_usage_display_name": helptext._argument_usage})

    def get_help_option(self, ctx):  # made anew for each context: fitted too
        help_option = super(type(self), self).get_help_option(ctx)
        if type(help_option) is core.TyperOption:
            help_option.__class__ = option
        return help_option

    command = type("NnctlCommand", (core.TyperCommand,), {
        "get_short_help_str": short_help, "get_help_option": get_help_option})
    group = type("NnctlGroup", (core.TyperGroup,), {
        "get_short_help_str": short_help, "get_help_option": get_help_option})
    return {core.TyperOption: option, core.TyperArgument: argument,
            core.TyperCommand: command, core.TyperGroup: group}
