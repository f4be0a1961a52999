"""Network specs: YAML (or a model file's JSON) -> a checked ModelSpec, positions kept.

The spec format is docs/spec.md. This module checks the structure (keys, names,
references, shapes of inputs); the layers check their own arguments (nnctl.layers) and the
graph checks shapes (nnctl.model). Every error points at the YAML node it is about.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from nnctl.errors import FileError, NnctlError, SpecError, no_such_file
from nnctl.naming import did_you_mean, name_problem
from nnctl.yamlpos import Located, load_yaml

TOP_KEYS_SEQUENTIAL = ("name", "input", "layers", "dtype", "seed", "batch_size")
TOP_KEYS_FUNCTIONAL = ("name", "inputs", "layers", "outputs", "dtype", "seed", "mask_names",
                       "batch_size")
DTYPES = ("float32", "float64")
INPUT_DTYPES = ("int32", "int64") + DTYPES  # an input may hold integers (Embedding indices)
INDEXED = re.compile(r".*\[\d+\]$")   # `lstm[1]`, `dense[1][0]`: a reference, not a name


@dataclass
class LayerSpec:
    type: str                   # Keras class name as written (resolved by nnctl.layers)
    config: dict                # the arguments, without type/name/inputs
    name: str | None            # None: a Keras default name is given by the model
    inbound: list[str] | None   # functional: names of the tensors it is called on
    path: tuple                 # where it is in the document: ("layers", k)
    call: str | None = None     # `{call: NAME, inputs: ...}`: layer NAME (defined above) called
                                # again, on other tensors (a shared layer); type/config unused


@dataclass
class ModelSpec:
    name: str
    functional: bool
    inputs: dict[str, tuple]          # input name -> shape of one sample (None for free dims)
    layers: list[LayerSpec]
    outputs: list[str] | None         # None: the last layer
    dtype: str = "float32"
    input_dtypes: dict[str, str] = field(default_factory=dict)  # only those given
    seed: int | None = None
    doc: Located | None = field(default=None, repr=False)
    # a fixed batch size (Keras' Input(batch_size=N), a Sequential built by fit): the first
    # axis of the summary's shapes, as Keras shows them; any number of rows still runs
    batch_size: int | None = None
    # Keras' names of its NotEqual mask operations, by masking Embedding (call): for summaries
    mask_names: dict[str, str | list[str]] = field(default_factory=dict)

    def error(self, message: str, path=(), kind=SpecError) -> NnctlError:
        """An error located at `path` of the document (file:line:col when known)."""
        if self.doc is None:
            return kind(message)
        return self.doc.error(message, path, kind)

    def locate(self, exc: NnctlError, path, key: bool = False) -> NnctlError:
        """Give an error raised deeper down (a layer, an initializer) this spec position."""
        if self.doc is not None:
            pos = self.doc.where(path, key)
            exc.at(self.doc.source, pos.line if pos else None, pos.column if pos else None)
        return exc


def read_spec(path: str) -> ModelSpec:
    """Read a spec from a YAML file, the `__spec__` of a model file (.npz) or a Keras file
    (.keras, .h5, model.to_json(): nnctl.kerasfile); "-" reads any of them from stdin (see
    read_stdin_model)."""
    if str(path) == "-":
        return read_stdin_model()[0]
    from nnctl.kerasfile import keras_kind

    if keras_kind(path):
        from nnctl.kerasfile import load_model

        spec_dict, _ = load_model(path, weights=False)
        return parse_spec(Located(spec_dict, {}, str(path)))
    if str(path).endswith(".npz"):
        from nnctl.weights import load_model_file

        spec_dict, _ = load_model_file(path)
        return parse_spec(Located(spec_dict, {}, str(path)))
    if str(path).lower().endswith(".onnx"):
        raise SpecError("an ONNX model, which nnctl writes (nnctl export) but does not read: "
                        "give the spec or model file it was exported from (with --engine "
                        "onnxruntime, forward runs that in ONNX Runtime)", source=str(path))
    return parse_spec(load_yaml(read_text(path), str(path)))


def read_stdin_model(source: str = "-") -> tuple[ModelSpec, dict | None]:
    """MODEL "-": a YAML spec, a model file (an .npz, known by the zip magic at its start:
    `nnctl build net.yaml -o - | nnctl forward - data.csv`) or a Keras file on stdin, read once
    and whole. `source`: a pipe given as a path instead (`<(cat net.yaml)`, a FIFO).

    Returns the spec and the model file's weights (None for a YAML spec).
    """
    name = STDIN if source == "-" else str(source)
    data = _read_stdin(source)
    from nnctl.kerasfile import keras_kind

    if keras_kind(name, data):
        from nnctl.kerasfile import load_model

        spec_dict, weights = load_model(name, data)
        return parse_spec(Located(spec_dict, {}, name)), weights
    if data.startswith(ZIP_MAGIC):
        from nnctl.weights import load_model_file

        spec_dict, weights = load_model_file(name, data)
        return parse_spec(Located(spec_dict, {}, name)), weights
    return parse_spec(load_yaml(_decoded(data, name), name)), None


MAX_SPEC_BYTES = 16 << 20  # specs are small; /dev/zero or a mistaken big file is refused
MAX_STDIN_MODEL_BYTES = 1 << 30  # a model file on stdin is held in memory: past this, a path
ZIP_MAGIC = b"PK\x03\x04"     # an .npz (or a .keras) is a zip archive
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # a Keras .h5
STDIN = "<stdin>"


def _read_stdin(source: str = "-") -> bytes:
    """stdin's (or a pipe's) bytes: up to MAX_SPEC_BYTES of YAML, or MAX_STDIN_MODEL_BYTES of
    model file."""
    import contextlib
    import sys

    name, where = (STDIN, "on stdin") if source == "-" else (str(source), "from a pipe")
    try:
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")
    except OSError as exc:
        raise FileError(exc.strerror or str(exc), source=name) from None
    try:
        with contextlib.nullcontext() if source == "-" else stream:
            return _read_bounded(stream, name, where)
    except OSError as exc:
        raise SpecError(exc.strerror or str(exc), source=name) from None


def _read_bounded(stream, name: str, where: str) -> bytes:
    head = stream.read(len(ZIP_MAGIC))
    model = head in (ZIP_MAGIC, HDF5_MAGIC[:len(ZIP_MAGIC)])
    limit = MAX_STDIN_MODEL_BYTES if model else MAX_SPEC_BYTES
    chunks, size = [head], len(head)
    while size <= limit:  # in pieces: read(limit) would allocate all of it at once
        chunk = stream.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        if model:
            raise SpecError(f"a model file larger than {limit >> 20} MB {where}: give it as "
                            "a file path", source=name)
        raise SpecError(f"larger than {limit >> 20} MB: not a spec", source=name)
    return b"".join(chunks)


def read_text(path: str) -> str:
    """The UTF-8 text of a spec file."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise no_such_file(path) from None
    except IsADirectoryError:
        raise FileError("is a directory, not a spec file", source=str(path)) from None
    except OSError as exc:
        raise FileError(exc.strerror or str(exc), source=str(path)) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"larger than {MAX_SPEC_BYTES >> 20} MB: not a spec", source=str(path))
    return _decoded(data, str(path))


def _decoded(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if data.startswith(b"\x93NUMPY"):   # data where the model goes
            raise SpecError("a NumPy array (.npy), not a model: the model comes first "
                            "(nnctl forward MODEL INPUT)", source=source) from None
        raise SpecError(f"not UTF-8 text (byte {exc.start})", source=source) from None


def parse_spec(doc: Located) -> ModelSpec:
    top = doc.value
    if not isinstance(top, dict):
        raise doc.error("a spec is a mapping with `layers` and `input` (Sequential) "
                        "or `inputs` (Functional)")
    functional = "inputs" in top
    if functional and "input" in top:
        raise doc.error("use either `input` (Sequential) or `inputs` (Functional), not both",
                        ("input",))
    allowed = TOP_KEYS_FUNCTIONAL if functional else TOP_KEYS_SEQUENTIAL
    _check_keys(doc, top, allowed, (), "the spec")

    name = top.get("name", "functional" if functional else "sequential")
    if not isinstance(name, str) or not name:
        raise doc.error(f"`name` must be a non-empty string, got {name!r}", ("name",))
    check_name(doc, name, ("name",), "the model's name")
    dtype = top.get("dtype", "float32")
    if dtype not in DTYPES:
        raise doc.error(f"`dtype` must be one of {', '.join(DTYPES)}, got {dtype!r}",
                        ("dtype",))
    seed = top.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise doc.error(f"`seed` must be a non-negative integer, got {seed!r}", ("seed",))
    batch_size = top.get("batch_size")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, int) or batch_size < 1):
        raise doc.error(f"`batch_size` must be a positive integer, got {batch_size!r}",
                        ("batch_size",))

    raw_layers = top.get("layers")
    if raw_layers is None:
        raise doc.error("the spec has no `layers`")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise doc.error("`layers` must be a non-empty list of layers", ("layers",))

    input_dtypes: dict[str, str] = {}
    if functional:
        inputs = _parse_inputs(doc, top["inputs"], input_dtypes)
    elif "input" in top:
        inputs = {"input_layer": _parse_input(doc, top["input"], ("input",), input_dtypes,
                                              "input_layer")}
    else:
        inputs = _input_from_first_layer(doc, raw_layers)

    layers = [_parse_layer(doc, raw, ("layers", k), functional)
              for k, raw in enumerate(raw_layers)]

    outputs = None
    if functional and "outputs" in top:
        raw = top["outputs"]
        outputs = [raw] if isinstance(raw, str) else raw
        if not isinstance(outputs, list) or not outputs or \
                not all(isinstance(o, str) for o in outputs):
            raise doc.error("`outputs` must be a layer name or a list of layer names",
                            ("outputs",))
    return ModelSpec(name=name, functional=functional, inputs=inputs, layers=layers,
                     outputs=outputs, dtype=dtype, seed=seed, doc=doc, batch_size=batch_size,
                     input_dtypes=input_dtypes, mask_names=_parse_mask_names(doc, top))


def _parse_mask_names(doc: Located, top: dict) -> dict[str, str]:
    """`mask_names: {EMBEDDING: NAME}` (docs/spec.md, Masks); which layers may be named is
    checked when the model is built."""
    raw = top.get("mask_names")
    if raw is None:
        return {}
    def names(value) -> list:
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, str) and v for v in value):
            return value
        return []

    if not isinstance(raw, dict) or not all(isinstance(k, str) and names(v)
                                            for k, v in raw.items()):
        raise doc.error("`mask_names` maps an Embedding(mask_zero: true) to the name of its "
                        "mask operation, a Masking layer to its two: {embedding: not_equal, "
                        "masking: [not_equal_1, any]}", ("mask_names",))
    seen: dict[str, str] = {}
    for key, value in raw.items():
        for name in names(value):
            check_name(doc, name, ("mask_names", key), "a mask operation's name")
            if name in seen:
                raise doc.error(f"mask operation name '{name}' is given to '{seen[name]}' and "
                                f"'{key}'", ("mask_names", key))
            seen[name] = key
    return dict(raw)


def parse_shape(doc: Located, raw, path) -> tuple:
    """`3` or `[3]` or `[null, 8]` -> a shape tuple of one sample."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise doc.error(f"a shape is a positive integer or a list of them, got {raw!r}", path)
    for i, d in enumerate(raw):
        if d is None:
            continue
        if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
            raise doc.error(f"shape dimensions must be positive integers (or null), "
                            f"got {d!r}", path + (i,))
    return tuple(raw)


def _parse_inputs(doc, raw, dtypes) -> dict[str, tuple]:
    if not isinstance(raw, dict) or not raw:
        raise doc.error("`inputs` maps each input's name to its shape, e.g. "
                        "`inputs: {features: [8]}`", ("inputs",))
    for name in raw:
        check_tensor_name(doc, str(name), ("inputs", name), "an input name", key=True)
    return {str(name): _parse_input(doc, value, ("inputs", name), dtypes, str(name))
            for name, value in raw.items()}


def _parse_input(doc, raw, path, dtypes, name) -> tuple:
    """A shape (`[100]`), or a mapping with its dtype: `{shape: [100], dtype: int32}`."""
    if not isinstance(raw, dict):
        return parse_shape(doc, raw, path)
    _check_keys(doc, raw, ("shape", "dtype"), path, "an input")
    if "shape" not in raw:
        raise doc.error("an input given as a mapping needs `shape` (e.g. "
                        "`{shape: [100], dtype: int32}`)", path)
    if "dtype" in raw:
        dtype = raw["dtype"]
        if dtype not in INPUT_DTYPES:
            raise doc.error(f"an input's `dtype` must be one of {', '.join(INPUT_DTYPES)}, "
                            f"got {dtype!r}", path + ("dtype",))
        dtypes[name] = dtype
    return parse_shape(doc, raw["shape"], path + ("shape",))


def check_name(doc: Located, name: str, path, what: str, key: bool = False) -> None:
    """Refuse a name with control characters or longer than MAX_NAME_LENGTH, at its place."""
    problem = name_problem(name)
    if problem:
        raise doc.error(f"{what} {problem}", path, key=key)


def check_tensor_name(doc: Located, name: str, path, what: str, key: bool = False) -> None:
    """check_name, and refuse a layer's or an input's name that ends in `[N]`: `lstm[1]`
    reads output 1 of `lstm`, `dense[1][0]` a shared layer's second call."""
    check_name(doc, name, path, what, key)
    if INDEXED.match(name):
        raise doc.error(f"{what} may not end in `[N]` ('{name}'): `NAME[N]` reads output N of "
                        "layer NAME (`lstm[1]`), `NAME[C][N]` a shared layer's call",
                        path, key=key)


def _input_from_first_layer(doc, raw_layers) -> dict[str, tuple]:
    first = raw_layers[0]
    if isinstance(first, dict) and "input_shape" in first:
        return {"input_layer": parse_shape(doc, first["input_shape"], ("layers", 0, "input_shape"))}
    raise doc.error("a Sequential spec needs `input: SHAPE` (the shape of one sample, "
                    "e.g. `input: [3]`); a Functional one needs `inputs:`")


def _parse_layer(doc, raw, path, functional) -> LayerSpec:
    if not isinstance(raw, dict):
        raise doc.error(f"a layer is a mapping like `{{type: Dense, units: 3}}`, got {raw!r}", path)
    if "call" in raw:
        return _parse_call(doc, raw, path, functional)
    if "type" not in raw:
        raise doc.error("the layer has no `type` (e.g. `type: Dense`)", path)
    type_name = raw["type"]
    if not isinstance(type_name, str):
        raise doc.error(f"`type` must be a layer class name, got {type_name!r}", path + ("type",))
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise doc.error(f"`name` must be a non-empty string, got {name!r}", path + ("name",))
    if name is not None:
        check_tensor_name(doc, name, path + ("name",), "a layer name")
    inbound = None
    if "inputs" in raw:
        if not functional:
            raise doc.error("`inputs` on a layer belongs to Functional specs (top-level "
                            "`inputs:`); a Sequential layer takes the previous layer",
                            path + ("inputs",))
        inbound = _inbound(doc, raw, path)
    config = {k: v for k, v in raw.items() if k not in ("type", "name", "inputs")}
    if not functional and path[-1] == 0:
        config.pop("input_shape", None)
    return LayerSpec(type=type_name, config=config, name=name, inbound=inbound, path=path)


def _parse_call(doc, raw, path, functional) -> LayerSpec:
    """`{call: shared, inputs: b}`: the layer `shared` of an entry above, called again (its
    weights are the same); its outputs are Keras' `shared[1][0]`, `shared[2][0]`..."""
    if not functional:
        raise doc.error("`call` (a layer called again) belongs to Functional specs: a "
                        "Sequential stack calls each layer once", path + ("call",))
    _check_keys(doc, raw, ("call", "inputs"), path, "a `call` entry (a layer called again)")
    target = raw["call"]
    if not isinstance(target, str) or not target:
        raise doc.error(f"`call` names a layer defined above, got {target!r}", path + ("call",))
    if "inputs" not in raw:
        raise doc.error(f"a `call` of '{target}' needs `inputs`: the tensors it is called on",
                        path)
    return LayerSpec(type="", config={}, name=None, inbound=_inbound(doc, raw, path), path=path,
                     call=target)


def _inbound(doc, raw, path) -> list[str]:
    """An entry's `inputs:`, a name or a list of names, as a list."""
    value = raw["inputs"]
    inbound = [value] if isinstance(value, str) else value
    if not isinstance(inbound, list) or not inbound or \
            not all(isinstance(v, str) and v for v in inbound):
        raise doc.error("`inputs` must be a name or a list of names of inputs or layers",
                        path + ("inputs",))
    return inbound


def _check_keys(doc, mapping, allowed, path, what):
    for key in mapping:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            raise doc.error(f"unknown key '{key}' in {what}{hint}; allowed: "
                            f"{', '.join(allowed)}", path + (key,), key=True)


def spec_yaml(spec: dict) -> str:
    """A spec mapping as YAML in the style of configs/: one flow-style line per layer."""
    import yaml

    def flow(value) -> str:
        text = yaml.safe_dump([value], default_flow_style=True, sort_keys=False,
                              width=1 << 30, allow_unicode=True).strip()
        return text[1:-1]   # the value without the list around it

    lines = []
    for key, value in spec.items():
        if key == "layers":
            lines.append("layers:")
            lines += [f"  - {flow(entry)}" for entry in value]
        else:
            lines.append(f"{key}: {flow(value)}")
    return "\n".join(lines) + "\n"
