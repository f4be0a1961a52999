"""Keras weights in HDF5, read and written with h5py (docs/keras-files.md).

Two layouts:
- Keras 3 (`model.weights.h5` inside a `.keras`, and `*.weights.h5`): `layers/<group>/vars/0..N`,
  the group named after the layer's class (`dense`, `dense_1`, numbered in model.layers order),
  the `vars` group carrying the layer's name; a sub-layer's variables (an LSTM's cell) sit in
  its own `vars` below, named after it (`lstm_cell`).
- Keras 2 / tf.keras whole-model `.h5`: `model_weights/<layer>/` with the attribute
  `weight_names` listing the layer's variables in order (`dense/kernel:0`), and the model's
  config as the JSON attribute `model_config`.

Variables are matched to nnctl's weights by ORDER: Keras stores a layer's variables in the
order it creates them, which is the order of the layer's weight_specs in nnctl; the name
prefix of an nnctl weight (`lstm_cell/` in `lstm_cell/kernel`) names the sub-layer.

Nothing in a file is trusted: links to other files, external or virtual storage, and datasets
that are not plain numbers are refused; every dataset's declared size is checked against free
memory before it is read.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from nnctl.errors import ResourceError, WeightsError
from nnctl.kerasfile import MAX_CONFIG_BYTES
from nnctl.limits import available_memory, human_bytes

INSTALL_HINT = ("reading and writing Keras files needs h5py, a dependency of nnctl that is "
                "not installed: pip install h5py")


def require_h5py():
    """The h5py module, imported on first use; a ResourceError with the install hint if absent."""
    try:
        import h5py
    except ImportError:
        raise ResourceError(INSTALL_HINT) from None
    return h5py


def open_h5(source, name: str):
    """An h5py.File for reading: `source` is a path or a file-like object (bytes in memory)."""
    h5py = require_h5py()
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        what = " ".join(str(exc).split()) or type(exc).__name__
        raise WeightsError(f"not a valid HDF5 file ({what})", source=name) from None


@contextmanager
def damaged_as_error(name: str):
    """HDF5's own errors on a damaged file (h5py raises OSError, RuntimeError, KeyError...)
    as one WeightsError naming the file."""
    from nnctl.errors import NnctlError

    try:
        yield
    except NnctlError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, OverflowError,
            UnicodeDecodeError) as exc:
        what = " ".join(str(exc).split()) or type(exc).__name__
        raise WeightsError(f"damaged HDF5 file ({what})", source=name) from None


class SafeReader:
    """Reads datasets of one HDF5 file with every size checked before reading."""

    def __init__(self, file, name: str):
        self.file = file
        self.name = name
        self.budget = available_memory() // 2
        self.read_bytes = 0

    def error(self, message: str) -> WeightsError:
        return WeightsError(message, source=self.name)

    def child(self, group, key: str, kind=None):
        """group[key] without following a link to another file or a soft link."""
        h5py = require_h5py()
        try:
            link = group.get(key, getlink=True)
        except (KeyError, OSError, ValueError, TypeError):
            link = None
        if link is None:
            return None
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            raise self.error(f"'{group.name}/{key}' is a link ({type(link).__name__}); a Keras "
                             "file holds its weights itself")
        try:
            obj = group[key]
        except (KeyError, OSError, ValueError) as exc:
            raise self.error(f"cannot read '{group.name}/{key}' ({exc})") from None
        if kind is not None and not isinstance(obj, kind):
            return None
        return obj

    def array(self, dataset) -> np.ndarray:
        """A dataset's values, after checking that they are plain numbers of a sane size."""
        where = f"dataset '{dataset.name}'"
        try:
            if dataset.is_virtual or dataset.external:
                raise self.error(f"{where} keeps its data outside the file (virtual or "
                                 "external storage); nnctl reads only what a file holds itself")
            dtype = dataset.dtype
            shape = dataset.shape
        except (OSError, ValueError, TypeError) as exc:
            raise self.error(f"cannot read {where} ({exc})") from None
        if shape is None or dtype.kind not in "fiu" or dtype.fields is not None:
            raise self.error(f"{where} holds {dtype}, not numbers")
        size = math.prod(shape) * dtype.itemsize
        if self.read_bytes + size > self.budget:
            raise self.error(f"{where} declares shape {tuple(shape)} ({human_bytes(size)}), "
                             f"more than the {human_bytes(self.budget)} this machine can spare")
        self.read_bytes += size
        try:
            return np.asarray(dataset[()])
        except (OSError, ValueError, TypeError) as exc:
            raise self.error(f"cannot read {where} ({' '.join(str(exc).split())})") from None

    def text_attribute(self, obj, key: str) -> str | None:
        """A string attribute (the model's JSON config), its size checked before reading."""
        h5py = require_h5py()
        if key not in obj.attrs:
            return None
        try:
            attr = h5py.h5a.open(obj.id, key.encode())
            size = attr.get_storage_size()
        except (KeyError, OSError, ValueError) as exc:
            raise self.error(f"cannot read attribute '{key}' ({exc})") from None
        if size > MAX_CONFIG_BYTES:
            raise self.error(f"attribute '{key}' is {human_bytes(size)}, larger than a model "
                             f"config can be ({human_bytes(MAX_CONFIG_BYTES)})")
        value = obj.attrs[key]
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error(f"attribute '{key}' is not UTF-8 text") from None
        if not isinstance(value, str):
            raise self.error(f"attribute '{key}' is not text")
        return value

    def names_attribute(self, obj, key: str) -> list[str]:
        """A list-of-strings attribute (`weight_names`, `layer_names`)."""
        if key not in obj.attrs:
            return []
        value = obj.attrs[key]
        if isinstance(value, np.ndarray) and value.size > 100_000:
            raise self.error(f"attribute '{key}' lists {value.size} names")
        items = value.tolist() if isinstance(value, np.ndarray) else [value]
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in items]


# --- reading ---------------------------------------------------------------------------------

def read_keras3_weights(reader: SafeReader, graph, expected: dict[str, list[str]]) -> dict:
    """`LAYER/WEIGHT` -> array from a Keras 3 weights file.

    expected: layer name -> its nnctl weight names in weight_specs order.
    """
    h5py = require_h5py()
    weights = {}
    for layer in graph.layers:
        names = expected.get(layer.name, [])
        group = _group_at(reader, layer.weights_path) if layer.weights_path else None
        found = _collect_vars(reader, group, h5py) if group is not None else []
        weights.update(_match(reader, layer, names, found))
    return weights


# groups below a layer's group (Keras nests a few: bidirectional/forward_layer/cell) and nested
# models below a model's (layers/sequential/layers/...) walked at most
MAX_GROUP_DEPTH = 32


def place_by_name(reader: SafeReader, graph) -> None:
    """In a Keras 3 weights file that holds nested models (`layers/sequential/layers/dense`:
    a model used as a layer keeps its layers' groups inside its own), find each of `graph`'s
    layers by the name its `vars` group carries, not by its place: the graph of a flattened
    spec numbers groups as if every layer sat in the outer model. A flat file is left to the
    places, as Keras reads it."""
    h5py = require_h5py()
    named: dict[str, str | None] = {}
    nested = False
    pending = [("layers", 0)]
    while pending:
        path, depth = pending.pop()
        group = _group_at(reader, path)
        if group is None or depth > MAX_GROUP_DEPTH:
            continue
        for key in sorted(group.keys()):
            child = reader.child(group, key, h5py.Group)
            if child is None:
                continue
            name = _vars_name(reader, child, h5py)
            if name is not None:   # a name met twice says nothing: left to places
                named[name] = None if name in named else f"{path}/{key}"
            if reader.child(child, "layers", h5py.Group) is not None:
                nested = True
                pending.append((f"{path}/{key}/layers", depth + 1))
    if nested:
        for layer in graph.layers:
            layer.weights_path = named.get(layer.name) or layer.weights_path


def _vars_name(reader: SafeReader, group, h5py) -> str | None:
    """The layer name a layer group's `vars` records, or None (files without it)."""
    own = reader.child(group, "vars", h5py.Group)
    name = own.attrs.get("name") if own is not None else None
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return name if isinstance(name, str) else None


def _group_at(reader: SafeReader, path: str):
    h5py = require_h5py()
    group = reader.file
    for part in path.split("/"):
        group = reader.child(group, part, h5py.Group)
        if group is None:
            return None
    return group


def _collect_vars(reader, group, h5py, prefix: str | None = "", path: str = ""):
    """[(name prefix, attribute path, [datasets in order])] of a layer's group: its own
    `vars`, then its sub-layers'. The name prefix is the chain of sub-layer names the `vars`
    groups carry (`forward_lstm/lstm_cell/`; None in files without them); the attribute path
    is Keras' (`forward_layer/cell/`). A layer's groups nested more than MAX_GROUP_DEPTH deep
    are refused (the walk recursed into 3,000 of them: 'damaged HDF5 file (maximum recursion
    depth exceeded)')."""
    if path.count("/") > MAX_GROUP_DEPTH:
        raise reader.error(f"group '{group.name}' is nested more than {MAX_GROUP_DEPTH} levels "
                           "deep below its layer")
    found = []
    own = reader.child(group, "vars", h5py.Group)
    if own is not None:
        found.append((prefix, path, _numbered(reader, own)))
    for key in sorted(group.keys()):
        if key in ("vars", "layers"):
            continue
        child = reader.child(group, key, h5py.Group)
        if child is None:
            continue
        child_name = _vars_name(reader, child, h5py)
        sub = None if prefix is None or child_name is None else f"{prefix}{child_name}/"
        found += _collect_vars(reader, child, h5py, sub, f"{path}{key}/")
    return found


def _numbered(reader, group) -> list:
    h5py = require_h5py()
    datasets = []
    keys = list(group.keys())
    for i in range(len(keys)):
        dataset = reader.child(group, str(i), h5py.Dataset)
        if dataset is None:
            held = ", ".join(f"'{k}'" for k in sorted(keys)[:5]) + (", ..." if len(keys) > 5
                                                                    else "")
            raise reader.error(f"'{group.name}' has no variable '{i}': Keras numbers a layer's "
                               f"variables from 0, and this group holds {held}")
        datasets.append(dataset)
    return datasets


def _match(reader, layer, names: list[str], found) -> dict:
    """Pair a layer's nnctl weight names with the datasets found for it, by order within each
    (sub-)layer: found by the sub-layer names the file carries, else by Keras' attributes."""
    by_prefix: dict[str, list[str]] = {}
    for name in names:
        prefix = name.rpartition("/")[0]
        by_prefix.setdefault(f"{prefix}/" if prefix else "", []).append(name)
    by_name = {p: ds for p, _, ds in found if p is not None}
    by_path = {path: ds for _, path, ds in found}
    from nnctl import layers as registry

    cls = registry.get(layer.class_name) if layer.class_name in registry.LAYERS else None
    attributes = _wrapper_attributes(cls, layer.args.get(getattr(cls, "wrapped_layer_key",
                                                                 None) or "", None))
    result, used = {}, set()
    for prefix, group_names in by_prefix.items():
        datasets = by_name.get(prefix)
        if datasets is None:
            datasets = by_path.get(_attribute_path(prefix, attributes), [])
        used.update(id(d) for d in datasets)
        if len(group_names) != len(datasets):
            raise reader.error(f"layer '{layer.name}' ({layer.class_name}): the file has "
                               f"{len(datasets)} variables for it, nnctl expects "
                               f"{len(group_names)} ({', '.join(group_names) or 'none'})")
        for name, dataset in zip(group_names, datasets):
            result[f"{layer.name}/{name}"] = reader.array(dataset)
    extra = [d for _, _, ds in found for d in ds if id(d) not in used]
    if extra:
        raise reader.error(f"layer '{layer.name}' ({layer.class_name}): the file has "
                           f"{len(extra)} more variables than nnctl's layer takes "
                           f"({extra[0].name})")
    return result


def read_legacy_weights(reader: SafeReader, root, graph, expected: dict[str, list[str]]) -> dict:
    """`LAYER/WEIGHT` -> array from a Keras 2 `.h5` (`model_weights/<layer>` + weight_names)."""
    h5py = require_h5py()
    queues: dict[str, list] = {}
    for layer in graph.layers:
        if layer.legacy_group in queues:
            continue
        group = reader.child(root, layer.legacy_group, h5py.Group)
        datasets = []
        if group is not None:
            for path in reader.names_attribute(group, "weight_names"):
                dataset = reader.child(group, path, h5py.Dataset) if path else None
                if dataset is None:
                    raise reader.error(f"layer '{layer.legacy_group}': weight '{path}' is listed "
                                       "but not in the file")
                datasets.append(dataset)
        queues[layer.legacy_group] = datasets
    weights = {}
    for layer in graph.layers:
        names = expected.get(layer.name, [])
        queue = queues[layer.legacy_group]
        if len(queue) < len(names):
            raise reader.error(f"layer '{layer.name}' ({layer.class_name}): the file has "
                               f"{len(queue)} weights left for it, nnctl expects {len(names)} "
                               f"({', '.join(names)})")
        for name in names:
            weights[f"{layer.name}/{name}"] = reader.array(queue.pop(0))
    for group, queue in queues.items():
        if queue:
            raise reader.error(f"layer '{group}': the file has {len(queue)} more weights than "
                               "nnctl's layer takes")
    return weights


# --- writing ---------------------------------------------------------------------------------

def write_keras3_weights(target, model, weights: dict, paths: dict[str, str]) -> None:
    """Write `weights` in Keras 3's layout to `target` (a path or a binary file object).

    paths: layer name -> its group (`layers/dense_1`), in model.layers order.
    """
    h5py = require_h5py()
    with h5py.File(target, "w") as f:
        for node in model.layers:
            if node.name not in paths:
                continue
            group = f.require_group(paths[node.name])
            attributes = _wrapper_attributes(type(node.layer), getattr(node.layer, "layer",
                                                                         None))
            sub_groups: dict[str, object] = {}
            own = group.create_group("vars")
            own.attrs["name"] = node.name
            for w in node.weights:
                prefix, _, _ = w.name.rpartition("/")
                target_group = own if not prefix else sub_groups.get(prefix)
                if target_group is None:
                    target_group = _sub_vars(group, prefix, attributes)
                    sub_groups[prefix] = target_group
                index = str(len(target_group.keys()))
                target_group.create_dataset(index, data=np.asarray(weights[f"{node.name}/{w.name}"],
                                                                   dtype=node.dtype))
        top = f.create_group("vars")
        top.attrs["name"] = model.name


# Keras' attribute names for the sub-layers nnctl names in weight paths: `lstm_cell` is
# the RNN's `cell`, `forward_lstm` is Bidirectional's `forward_layer`.
def _sub_attribute(name: str, attributes: dict | None = None) -> str:
    if attributes and name in attributes:   # a wrapper's own: TimeDistributed's `layer`
        return attributes[name]
    if name.endswith("_cell"):
        return "cell"
    for side in ("forward", "backward"):
        if name.startswith(side + "_"):
            return f"{side}_layer"
    return name


def _attribute_path(prefix: str, attributes: dict | None = None) -> str:
    """`forward_lstm/lstm_cell/` -> Keras' `forward_layer/cell/`."""
    parts = [p for p in prefix.split("/") if p]
    return "".join(f"{_sub_attribute(p, attributes)}/" for p in parts)


def _wrapper_attributes(cls, inner) -> dict[str, str]:
    """A wrapper's sub-layer by the Keras attribute its weights are saved under, by the
    sub-layer's name: {"dense": "layer"} for TimeDistributed(Dense) (`wrapped_attribute`);
    inner: the wrapped layer, or its spec mapping."""
    attribute = getattr(cls, "wrapped_attribute", None)
    name = inner.get("name") if isinstance(inner, dict) else getattr(inner, "name", None)
    return {name: attribute} if attribute and isinstance(name, str) else {}


def _sub_vars(group, prefix: str, attributes: dict | None = None):
    for part in prefix.split("/"):
        group = group.require_group(_sub_attribute(part, attributes))
        if "vars" not in group:
            group.create_group("vars").attrs["name"] = part
    return group["vars"]
