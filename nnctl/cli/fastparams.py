"""Command-line values without pydantic, for start-up time.

typer 0.29 turns every parameter value into its Python type through a pydantic TypeAdapter;
importing pydantic and building the adapters costs about as much as importing NumPy, on every
run of every command. nnctl's commands take plain values (str, int, float, bool, Enum choices
and lists of them): those are converted here, with typer's own choice matching and the same
messages, min=/max= ranges included; anything else (paths, files, clamped ranges, custom
parsers) still goes to typer.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum
from typing import Any, get_args, get_origin


def runtime_param(descriptor):
    """nnctl's coercion for a simple parameter (str, int, float, bool, Enum, lists of them),
    or None: typer's own (pydantic) path then serves it."""
    if not _simple(descriptor):
        return None
    from typer import core

    return _fast_class()(parameter_info=descriptor.parameter_info,
                         annotation=descriptor.annotation, descriptor=descriptor,
                         typer_build=core.build_runtime_param)


def _simple(descriptor) -> bool:
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None:
        return False
    if getattr(info, "click_type", None) is not None or getattr(info, "clamp", False):
        return False
    annotation = descriptor.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation) or (None,)
    return annotation in (str, int, float, bool) or (
        isinstance(annotation, type) and issubclass(annotation, Enum))


_NOT_MINE = object()
_NUMBER_MESSAGES = {
    int: "Input should be a valid integer, unable to parse string as an integer",
    float: "Input should be a valid number, unable to parse string as a number",
}


def value_text(number) -> str:
    return repr(number) if isinstance(number, float) else str(number)


@functools.cache
def _fast_class():
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam
    from typer._param_types import coerce_cli_choice

    @dataclass(frozen=True)
    class FastRuntimeParam(RuntimeParam):
        descriptor: Any = None
        typer_build: Any = None

        def _coerce_value(self, value, param, ctx):
            annotation = self.annotation
            if get_origin(annotation) is list:
                (item_type,) = get_args(annotation)
                items = value if isinstance(value, (list, tuple)) else [value]
                result = [self._one(item_type, item, param, ctx) for item in items]
                mine = all(item is not _NOT_MINE for item in result)
            else:
                result = self._one(annotation, value, param, ctx)
                mine = result is not _NOT_MINE
            if mine:
                return result
            # anything unusual (bytes, a bool from an environment variable, ...): typer's way
            return self.typer_build(self.descriptor)._coerce_value(value, param, ctx)

        def _one(self, annotation, value, param, ctx):
            if annotation in (str, bool):
                return value if isinstance(value, annotation) else _NOT_MINE
            if annotation in (int, float):
                if type(value) in (int, float):
                    return self._in_range(annotation(value), param, ctx)
                if not isinstance(value, str):
                    return _NOT_MINE
                try:
                    number = annotation(value)
                except ValueError:
                    raise BadParameter(_NUMBER_MESSAGES[annotation], ctx=ctx,
                                       param=param) from None
                return self._in_range(number, param, ctx)
            try:  # an Enum: typer's own matching of the choices
                return coerce_cli_choice(value, choices=list(annotation),
                                         case_sensitive=self.parameter_info.case_sensitive,
                                         ctx=ctx)
            except ValueError as exc:
                from nnctl.naming import did_you_mean

                hint = did_you_mean(str(value), [c.value for c in annotation])
                raise BadParameter(f"{str(exc).rstrip('.')}{hint}", ctx=ctx, param=param) from None

        def _in_range(self, number, param, ctx):
            # typer's min=/max= (pydantic's ge/le)
            low, high = self.parameter_info.min, self.parameter_info.max
            if low is not None and number < low:
                raise BadParameter(f"must be at least {low} (got {value_text(number)})",
                                   ctx=ctx, param=param)
            if high is not None and number > high:
                raise BadParameter(f"must be at most {high} (got {value_text(number)})",
                                   ctx=ctx, param=param)
            return number

    return FastRuntimeParam
