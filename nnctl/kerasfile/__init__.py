"""Keras' own files as nnctl models (docs/keras-files.md).

Read: Keras 3 `.keras` archives, Keras 2 / tf.keras whole-model `.h5` files, `model.to_json()`
configs (`.json`, no weights) and Keras 3 `.weights.h5` files (weights for a model you have).
Written: `.keras` archives and `.weights.h5` files that Keras 3 loads with equal predictions.

Engine functions (the CLI and the Python API call these; none imports h5py until a file needs it):

    keras_kind(path)                 -> "keras" | "h5" | "json" | None   (by content, then name)
    load_model(path)                 -> (spec dict, weights dict or None)
    keras_json_to_spec(text)         -> spec dict              (model.to_json() -> nnctl)
    spec_to_keras_json(spec)         -> str                    (nnctl -> model.to_json())
    save_keras(path, spec, weights)                            (writes a .keras archive)
    save_weights_h5(path, spec, weights)                       (writes a Keras 3 .weights.h5)
    load_weights_h5(path, spec)      -> weights dict           (reads .weights.h5 or a Keras 2 .h5)

`spec` is a spec dict (as in an nnctl model file's `__spec__`), a ModelSpec or a built Model;
`weights` maps `LAYER/WEIGHT` (Keras variable paths, docs/formats.md) to arrays.
"""
from __future__ import annotations

import io
import os

from nnctl.errors import FileError, NnctlError, SpecError, WeightsError, no_such_file
from nnctl.spec import HDF5_MAGIC, ZIP_MAGIC

KINDS = {"keras": "Keras 3 archive", "h5": "Keras 2 / tf.keras HDF5 model",
         "json": "Keras model config (model.to_json())"}
EXTENSIONS = {".keras": "keras", ".h5": "h5", ".hdf5": "h5"}
# A model config (a .json file, a .keras' config.json, an .h5's model_config) is KBs: past this,
# it is not one
MAX_CONFIG_BYTES = 16 << 20
# and at most this many values (counted before parsing from commas and brackets: a Keras
# config has one every 14-19 bytes, so 16 MB of it about a million; 2 million values of the
# densest kind (`"a",`) parse to about 120 MB)
MAX_CONFIG_VALUES = 2_000_000
# A .keras archive holds metadata.json, config.json, model.weights.h5 and a layer's assets: an
# archive of more members is not one, and its directory is not parsed to find out (a weights
# .npz of 100,000 members took 1-2 s to parse, once here and again when read)
MAX_KERAS_MEMBERS = 1_000


def keras_kind(path, data: bytes | None = None) -> str | None:
    """Which Keras file `path` is ("keras", "h5", "json"), or None for anything else.

    By content first (an HDF5 signature; a zip holding config.json; a JSON object with a
    `class_name`), so a renamed file is still recognized; a missing file by its extension.
    data: the file's bytes, already read (stdin).
    """
    name = os.fspath(path)
    if data is None:
        try:
            with open(name, "rb") as f:
                head = f.read(8)
        except OSError:
            return EXTENSIONS.get(os.path.splitext(name)[1].lower())
    else:
        head = data[:8]
    if head.startswith(HDF5_MAGIC):
        return "h5"
    if head.startswith(ZIP_MAGIC):
        import zipfile

        from nnctl.limits import zip_entry_count

        source = name if data is None else io.BytesIO(data)
        count = zip_entry_count(source)
        if count is not None and count > MAX_KERAS_MEMBERS:   # an .npz: its reader checks it
            return "keras" if name.lower().endswith(".keras") else None
        try:
            with zipfile.ZipFile(source) as archive:
                if "config.json" in archive.namelist():
                    return "keras"
        except (zipfile.BadZipFile, OSError, ValueError):
            pass
        # named .keras: its reader says what is wrong (a zip without config.json)
        return "keras" if name.lower().endswith(".keras") else None
    extension = os.path.splitext(name)[1].lower()
    if extension in EXTENSIONS:  # named so, not one inside: its reader says what is wrong
        return EXTENSIONS[extension]
    if head.lstrip()[:1] == b"{" and _is_keras_json(name, data):
        return "json"
    return None


def _is_keras_json(name: str, data: bytes | None) -> bool:
    import json

    if data is None:
        try:
            if os.path.getsize(name) > MAX_CONFIG_BYTES:
                return False
            with open(name, "rb") as f:
                data = f.read(MAX_CONFIG_BYTES + 1)
        except OSError:
            return False
    from nnctl.limits import json_values_at_most

    if json_values_at_most(data) > MAX_CONFIG_VALUES:   # parse_json refuses it, saying so
        return data.lstrip()[:1] == b"{"
    try:
        top = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(top, dict) and "class_name" in top and "config" in top


def load_model(path, data: bytes | None = None, weights: bool = True):
    """(spec dict, weights or None) of a Keras file: `.keras`, Keras 2 `.h5`, or `.json`.

    The spec dict is what nnctl.spec.parse_spec reads; weights map `LAYER/WEIGHT` to arrays
    (None for a `.json` config, which has none, or when weights=False). Raises SpecError or
    WeightsError (one line naming the file, and the layer when there is one) for anything
    nnctl cannot represent or read safely. data: the file's bytes, already read (stdin).
    """
    name = os.fspath(path)
    kind = keras_kind(path, data)
    if data is None and not os.path.exists(name):
        raise no_such_file(name)
    if data is None and os.path.isdir(name):
        raise FileError("is a directory, not a Keras file", source=name)
    if kind == "json":
        text = data if data is not None else _read_limited(name)
        return keras_json_to_spec(text, name), None
    from nnctl.kerasfile.isolation import run_isolated

    size = len(data) if data is not None else os.path.getsize(name)
    if kind == "keras":
        return run_isolated(lambda: _load_archive(name, data, weights), name, size)
    if kind == "h5":
        return run_isolated(lambda: _load_h5_model(name, data, weights), name, size)
    raise SpecError("not a Keras file (.keras, .h5 or a model.to_json() config)", source=name)


def keras_optimizer(path, data: bytes | None = None):
    """The OptimizerState (nnctl.kerasfile.optimizer) of a `.keras` archive saved from a
    compiled model, whose summary in Keras counts its optimizer's variables; None for any
    other file, or an archive of a model never compiled."""
    if keras_kind(path, data) != "keras":
        return None
    from nnctl.kerasfile import archive
    from nnctl.kerasfile.optimizer import optimizer_state

    name = os.fspath(path)
    with archive.open_archive(name if data is None else io.BytesIO(data), name) as zf:
        return optimizer_state(archive.read_config(zf, name))


def _read_limited(name: str) -> bytes:
    with open(name, "rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise SpecError(f"larger than {MAX_CONFIG_BYTES >> 20} MB: not a model config", source=name)
    return data


def keras_json_to_spec(text, source: str | None = None) -> dict:
    """A Keras model config (the text of `model.to_json()`, or its parsed dict) -> spec dict."""
    from nnctl.kerasfile.archive import parse_json
    from nnctl.kerasfile.config import keras_config_to_graph

    config = parse_json(text, "the config", source) if isinstance(text, (str, bytes)) else text
    _check_document(config, source)
    return _spec_of(keras_config_to_graph(config, source), source)


def spec_to_keras_json(spec) -> str:
    """The Keras 3 config of a spec as `model.to_json()` writes it (keras.models.model_from_json
    reads it back)."""
    import json

    from nnctl.kerasfile.config import model_to_keras_config

    return json.dumps(model_to_keras_config(_built(spec)))


def save_keras(path, spec, weights: dict) -> None:
    """Write a `.keras` archive (config.json + model.weights.h5) that keras.saving.load_model
    opens and that predicts what nnctl computes; atomically; "-" writes to stdout."""
    from nnctl.kerasfile.archive import write_archive
    from nnctl.kerasfile.config import model_to_keras_config

    model = _built(spec)
    checked = model.check_weights(weights)
    config = model_to_keras_config(model)
    buffer = io.BytesIO()
    _write_weights(buffer, model, checked)
    _write(path, lambda f: write_archive(f, config, buffer.getvalue()))


def save_weights_h5(path, spec, weights: dict, groups: dict[str, str] | None = None) -> None:
    """Write a Keras 3 `.weights.h5` (what model.save_weights writes), atomically.
    groups: layer name -> its group where it differs from a flat model's (`layers/sequential/
    layers/dense` for a layer of a nested model: the Python API's models know their nesting,
    which a spec has flattened)."""
    model = _built(spec)
    checked = model.check_weights(weights)
    buffer = io.BytesIO()
    _write_weights(buffer, model, checked, groups)
    _write(path, lambda f: f.write(buffer.getvalue()))


def load_weights_h5(path, spec) -> dict:
    """`LAYER/WEIGHT` -> array from a Keras 3 `.weights.h5`, a Keras 2 `.h5` (whole model or
    weights only) or a `.keras` archive, matched to `spec`'s layers."""
    from nnctl.kerasfile.isolation import run_isolated

    name = os.fspath(path)
    model = _built(spec)
    kind = keras_kind(name)
    if not os.path.exists(name):
        raise no_such_file(name)
    if not os.path.isfile(name):
        raise FileError("not a file", source=name)
    size = os.path.getsize(name)
    if kind == "keras":
        return run_isolated(lambda: _load_archive(name, None, True, model=model), name, size)[1]
    if kind != "h5":
        raise WeightsError("not an HDF5 weights file (.weights.h5 or .h5)", source=name)
    return run_isolated(lambda: (None, _read_weights_file(name, model)), name, size)[1]


def _read_weights_file(name: str, model) -> dict:
    from nnctl.kerasfile import h5

    with h5.damaged_as_error(name), h5.open_h5(name, name) as f:
        reader = h5.SafeReader(f, name)
        graph = _layout(model)
        h5.place_by_name(reader, graph)
        return _read_h5_weights(reader, f, _legacy_layout(reader, f, graph, model), model)


# --- internals -------------------------------------------------------------------------------

def _check_document(config, source) -> None:
    from nnctl.yamlpos import check_document

    check_document(config, source or "config", limit=256, max_values=MAX_CONFIG_VALUES)


def _built(spec):
    """A built nnctl Model from a spec dict, a ModelSpec or a Model."""
    from nnctl.model import Model, build_model
    from nnctl.spec import ModelSpec, parse_spec
    from nnctl.yamlpos import Located

    if isinstance(spec, Model):
        return spec
    if isinstance(spec, dict):
        spec = parse_spec(Located(spec, {}, "<spec>"))
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"a spec dict, ModelSpec or Model, got {type(spec).__name__}")
    return build_model(spec)


def _model_of(spec_dict: dict, name: str):
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import Located

    return build_model(parse_spec(Located(spec_dict, {}, name)))


def _spec_of(graph, name) -> dict:
    """The spec dict of a KerasGraph, its explicit masks checked (nnctl.kerasfile.masks)."""
    spec = graph.spec()
    if graph.masks:
        from nnctl.kerasfile.masks import check_masks

        check_masks(graph, _model_of(spec, name or "config"), name)
    return spec


def _expected(model) -> dict[str, list[str]]:
    return {node.name: [w.name for w in node.weights] for node in model.layers}


def _load_archive(name: str, data, weights: bool, model=None):
    from nnctl.kerasfile import archive, h5
    from nnctl.kerasfile.config import keras_config_to_graph

    with archive.open_archive(name if data is None else io.BytesIO(data), name) as zf:
        if model is None:
            config = archive.read_config(zf, name)
            _check_document(config, name)
            graph = keras_config_to_graph(config, name)
            spec = _spec_of(graph, name)
        else:
            graph, spec = _layout(model), None
        if not weights:
            return spec, None
        raw = archive.read_weights_bytes(zf, name)
    if raw is None:
        raise WeightsError("the archive has no model.weights.h5", source=name)
    model = model or _model_of(spec, name)
    with h5.damaged_as_error(name), h5.open_h5(io.BytesIO(raw), name) as f:
        reader = h5.SafeReader(f, name)
        if spec is None:   # weights for a model given otherwise: its layers found by name
            h5.place_by_name(reader, graph)
        values = h5.read_keras3_weights(reader, graph, _expected(model))
    return spec, values


def _load_h5_model(name: str, data, weights: bool):
    from nnctl.kerasfile import h5
    from nnctl.kerasfile.archive import parse_json
    from nnctl.kerasfile.config import keras_config_to_graph

    if data is None and not os.path.isfile(name):
        raise WeightsError("not a regular file (an .h5 is read from a file)", source=name)
    with h5.damaged_as_error(name), \
            h5.open_h5(name if data is None else io.BytesIO(data), name) as f:
        reader = h5.SafeReader(f, name)
        text = reader.text_attribute(f, "model_config")
        if text is None:
            raise SpecError("holds weights only, no model config (model.save_weights wrote it); "
                            "give it as --weights FILE with the model, or save the whole model",
                            source=name)
        config = parse_json(text, "model_config", name)
        _check_document(config, name)
        graph = keras_config_to_graph(config, name)
        spec = _spec_of(graph, name)
        if not weights:
            return spec, None
        model = _model_of(spec, name)
        return spec, _read_h5_weights(reader, f, graph, model)


def _read_h5_weights(reader, f, graph, model) -> dict:
    from nnctl.kerasfile import h5

    h5py = h5.require_h5py()
    root = reader.child(f, "model_weights", h5py.Group)
    if root is None and "layer_names" in f.attrs:
        root = f   # a Keras 2 weights-only file
    if root is not None:
        return h5.read_legacy_weights(reader, root, graph, _expected(model))
    if reader.child(f, "layers", h5py.Group) is None and any(_expected(model).values()):
        raise WeightsError("has no Keras weights (neither `layers/` of Keras 3 nor "
                           "`model_weights/` of Keras 2)", source=reader.name)
    return h5.read_keras3_weights(reader, graph, _expected(model))


def _layout(model):
    """The KerasGraph of an nnctl model: where Keras 3 keeps each layer's weights."""
    from nnctl.kerasfile.config import KerasGraph, KerasLayer, child_group

    graph = KerasGraph(model.name, not model.functional, {})
    counters: dict[str, int] = {}
    names = model.layer_order if model.functional else [n.name for n in model.layers]
    for name in names:
        node = model.nodes[name]
        path = child_group("", node.type_name, counters)
        if node.layer is not None:
            graph.layers.append(KerasLayer(name, node.type_name, {}, node.inbound, path, name))
    return graph


def _legacy_layout(reader, f, graph, model):
    """A whole-model Keras 2 `.h5` holding the layers of `model` by name: its own config's
    graph, which knows the groups of nested models' layers (`model_weights/<nested model>`);
    else `graph` (each layer in its own group, as a flat model keeps them). Only the weights
    are read: a config nnctl would not run as a model (a Lambda, a custom layer) leaves them
    to `graph`."""
    from nnctl.kerasfile.archive import parse_json
    from nnctl.kerasfile.config import keras_config_to_graph

    text = reader.text_attribute(f, "model_config")
    if text is None:
        return graph
    try:
        config = parse_json(text, "model_config", reader.name)
        _check_document(config, reader.name)
        own = keras_config_to_graph(config, reader.name)
    except NnctlError:
        return graph
    weighted = {node.name for node in model.layers if node.weights}
    if weighted <= {layer.name for layer in own.layers}:
        return own
    return graph


def _write_weights(target, model, weights, groups: dict[str, str] | None = None) -> None:
    from nnctl.kerasfile import h5

    paths = {layer.name: layer.weights_path for layer in _layout(model).layers}
    paths.update(groups or {})
    h5.write_keras3_weights(target, model, weights, paths)


def _write(path, write) -> None:
    from nnctl.atomic import atomic_write, write_bytes

    if os.fspath(path) == "-":
        buffer = io.BytesIO()
        write(buffer)
        write_bytes(path, buffer.getvalue())
        return
    with atomic_write(path) as f:
        write(f)
