"""Masks: which steps of a sequence are padding, as `Embedding(mask_zero=True)` says.

Keras attaches a mask to a tensor and hands it on from layer to layer (keras/src/layers/
layer.py): a layer that supports masking passes it on (or combines several, as the merge
layers do: Keras 3 or-s their masks when every input carries one, and drops the mask when one
does not (merging/base_merge.py; Concatenate's mask is then all ones, the same thing; along
the steps Concatenate joins the masks, all ones for an unmasked input)), any
other drops it. Only some layers change their results by it; of those nnctl computes the
recurrent ones (a masked step leaves the state as it was, see nnctl.layers.recurrent),
GlobalAveragePooling1D (the mean of the unmasked steps, nnctl.layers.pooling) and Multiply,
Maximum and Minimum (which read each input's mask, nnctl.layers.merging), and refuses the
others, rather than compute something else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnctl.layers.base import ArgError

# Layers that hand a mask on unchanged (Keras: supports_masking, compute_mask = the input's).
PASS_ON = {"Dense", "Activation", "Dropout", "BatchNormalization", "LayerNormalization",
           "ReLU", "LeakyReLU", "PReLU", "ELU", "Rescaling", "Normalization",
           "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D",
           "SpatialDropout2D", "SpatialDropout3D", "ActivityRegularization",
           "TimeDistributed"}   # its wrapped layer takes no mask (nnctl.layers.wrappers)
# Merge layers: the output's mask is every input's mask or-ed, when every input carries one.
MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}
# Layers whose results Keras computes differently under a mask, and nnctl does not (yet).
USES_MASK = {"Softmax", "GlobalAveragePooling1D", "Attention", "AdditiveAttention",
             "MultiHeadAttention", "GroupedQueryAttention"}


# Layers Keras calls with `mask=` though the mask changes nothing they compute at inference
TAKES_MASK = {"BatchNormalization", "TimeDistributed"}
MASK_OP = "NotEqual"      # Keras 3's operation for Embedding(mask_zero=True)'s mask
MASK_OP_NAME = "not_equal"
STEPS_OP, STEPS_OP_NAME = "Any", "any"   # Masking's mask: any(x != mask_value, axis=-1)
MERGED = object()         # a mask Keras makes of several by further operations


@dataclass
class MaskOperation:
    """A `NotEqual(x, 0)` that Keras 3 traces in a functional model for the mask of one
    Embedding(mask_zero=True) call, and lists in its summary when a layer is called with it;
    for a Masking layer, `NotEqual(x, mask_value)` and the `Any` over its last axis."""

    name: str                  # Keras' name: not_equal, not_equal_1, ... (any, any_1, ...)
    embedding: str             # the node whose mask it is (an Embedding's, a Masking's)
    inbound: str               # the node whose output it compares (an Any: its NotEqual)
    index: int                 # which output of that node
    shape: tuple               # its output's shape (one sample)
    consumers: list[str] = field(default_factory=list)   # nodes called with mask= it
    kind: str = "NotEqual"     # its Keras class: NotEqual, Any


def creates_mask(layer) -> bool:
    """Whether the layer's output carries a mask of its own making: Embedding(mask_zero=True),
    Masking (`compute_mask`)."""
    return bool(getattr(layer, "mask_zero", False) or getattr(layer, "creates_mask", False))


def takes_mask(layer) -> bool:
    """Whether Keras calls the layer with `mask=` when its input carries one."""
    return getattr(layer, "consumes_mask", False) or type(layer).__name__ in TAKES_MASK


def mask_operations(model) -> tuple[list[MaskOperation], list[str]]:
    """Keras' NotEqual mask operations of a functional model that layers are called with,
    in the order Keras creates them (one per Embedding(mask_zero=True) call, in build order,
    named not_equal, not_equal_1, ... unless the spec's `mask_names` says), and the
    nodes called with a mask that Keras makes by other operations (of a merge of masked
    tensors), which are not listed."""
    from nnctl.model import mask_key

    created: list[MaskOperation] = []
    reduced: list[MaskOperation] = []  # Masking's Any operations
    tensors: dict[str, object] = {}    # node -> the mask operation of its output, or MERGED
    unlisted = []
    for name, node in model.nodes.items():
        if node.layer is None:
            continue
        reads = next((tensors[i] for i, k in zip(node.inbound, node.inbound_index)
                      if k == 0 and i in tensors), None)
        if takes_mask(node.layer) and reads is MERGED:
            unlisted.append(name)
        elif takes_mask(node.layer) and reads is not None:
            reads.consumers.append(name)
        if not node.masked:
            continue
        if creates_mask(node.layer):
            source = model.nodes[node.inbound[0]]
            k = node.inbound_index[0]
            given = model.spec.mask_names.get(mask_key(node))
            names = [given] if isinstance(given, str) else given or [None, None]
            op = MaskOperation(names[0] or _numbered(MASK_OP_NAME, len(created)), name,
                               source.name, k, source.shapes[k])
            created.append(op)
            tensors[name] = op
            if not getattr(node.layer, "mask_zero", False):   # Masking: then any(axis=-1)
                tensors[name] = MaskOperation(names[1] or _numbered(STEPS_OP_NAME, len(reduced)),
                                              name, op.name, 0, source.shapes[k][:-1],
                                              kind=STEPS_OP)
                reduced.append(tensors[name])
        elif type(node.layer).__name__ in MERGE:
            tensors[name] = MERGED
        else:
            tensors[name] = reads
    used = [op for op in reduced if op.consumers]
    for op in used:   # a used Any lists the NotEqual it reads
        next(c for c in created if c.name == op.inbound).consumers.append(op.name)
    return [op for op in created if op.consumers] + used, unlisted


def order_with_operations(model, ops: list[MaskOperation]) -> list[str]:
    """Keras' order of a functional model's layers and of its listed mask operations `ops`
    (mask_operations): its graph holds them, so they change where layers come."""
    from nnctl.model import keras_layer_order

    by_name = {op.name: op for op in ops}
    reads = {consumer: op.name for op in ops for consumer in op.consumers}
    return keras_layer_order(model, lambda name: [by_name[name].inbound] if name in by_name
                             else model.nodes[name].inbound + ([reads[name]]
                                                               if name in reads else []))


def _numbered(stem: str, count: int) -> str:
    """Keras' name of the count-th (from 0) operation of a kind in a session."""
    return stem if not count else f"{stem}_{count}"


def output_masked(layer, inbound, index) -> bool:
    """Whether `layer`'s first output carries a mask, given its inbound nodes (and which of
    their outputs it reads); refuses, as an ArgError, a mask that nnctl cannot honour."""
    kind = type(layer).__name__
    if creates_mask(layer):
        return True
    masked = [node.masked and k == 0 for node, k in zip(inbound, index)]
    if not any(masked):
        return False
    source = inbound[masked.index(True)].name
    if _joins_steps(layer, len(inbound[0].shapes[index[0]])):
        return True    # the masks joined along the steps, all ones for an unmasked input
    if kind in MERGE and not all(masked):
        return False   # Keras 3: no mask (Concatenate: an all-ones mask, which masks nothing)
    if getattr(layer, "consumes_mask", False):   # a recurrent layer, GlobalAveragePooling1D
        return getattr(layer, "return_sequences", False)
    if kind in PASS_ON or kind in MERGE:
        return True
    if kind in USES_MASK:
        raise ArgError(None, f"layer '{layer.name}': {kind} would use the mask that "
                             f"'{source}' carries (mask_zero); nnctl does not compute "
                             f"masked {kind}; drop mask_zero or the layer")
    return False  # Keras drops the mask here (Flatten, Reshape, convolutions...)


def inbound_masks(node, masks: dict) -> list:
    """The mask of each tensor a node reads, out of `masks` (node name -> the mask of its
    first output), None where it carries none (a further output never does)."""
    return [masks.get(i) if k == 0 else None for i, k in zip(node.inbound, node.inbound_index)]


def first_mask(node, masks: dict):
    """The mask a node's layer reads: its first masked input's, or None."""
    return next((m for m in inbound_masks(node, masks) if m is not None), None)


def mask_origins(model) -> dict[str, frozenset]:
    """What each masked node's mask is made of: node name -> the tensors, as (node, output
    index), whose `!= 0` (an Embedding(mask_zero=True) on them) are and-ed into it."""
    origins: dict[str, frozenset] = {}
    for name in model.order:
        node = model.nodes[name]
        if not node.masked:
            continue
        if getattr(node.layer, "mask_zero", False):
            origins[name] = frozenset([(node.inbound[0], node.inbound_index[0])])
            continue
        if creates_mask(node.layer):   # Masking: no Embedding's `!= 0`, its own mask
            origins[name] = frozenset([(name, -1)])
            continue
        present = [origins[i] for i, k in zip(node.inbound, node.inbound_index)
                   if k == 0 and i in origins]
        origins[name] = frozenset().union(*present) if type(node.layer).__name__ in MERGE \
            else present[0]
    return origins


def read_mask_origin(node, origins: dict) -> frozenset | None:
    """The origin (mask_origins) of the mask a node's layer reads: its first masked input's."""
    return next((origins[i] for i, k in zip(node.inbound, node.inbound_index)
                 if k == 0 and i in origins), None)


def call_masked(model, node, args, weights, masks):
    """(the layer's outputs, the mask of its first output) for one node of a masked model."""
    layer = node.layer
    inbound = inbound_masks(node, masks)
    mask = first_mask(node, masks)
    if getattr(layer, "consumes_mask", False) and mask is not None:
        values = layer.call(args, weights, mask=mask)
    elif getattr(layer, "reads_input_masks", False) and mask is not None:
        values = layer.call(args, weights, masks=inbound)   # Multiply, Maximum, Minimum
    else:
        values = layer.call(args, weights)
    if not node.masked:
        return values, None
    if creates_mask(layer):
        return values, layer.compute_mask(args)
    if _joins_steps(layer, args[0].ndim - 1):
        mask = np.concatenate([np.ones(x.shape[:-1], bool) if m is None else m
                               for m, x in zip(inbound, args)],
                              axis=_mask_axis(layer, args[0].ndim - 1))
    elif type(layer).__name__ in MERGE:   # every input carries a mask (output_masked)
        mask = inbound[0] if len(inbound) == 1 else np.logical_or.reduce(inbound)
    return values, mask


def _joins_steps(layer, rank: int) -> bool:
    """A Concatenate along the steps of inputs of `rank` axes a sample: Keras joins their
    masks along that axis (an unmasked input's all ones; merging/concatenate.py,
    compute_mask)."""
    return type(layer).__name__ == "Concatenate" and layer.along_steps(rank)


def _mask_axis(layer, rank: int) -> int:
    """That Concatenate's axis in its masks (batched: a sample's steps, its axes but the
    last)."""
    return layer.sample_axis(rank) + 1


def onnx_mask(g, model, node, args, masks) -> str | list | None:
    """call_masked for the ONNX graph: records the node's mask tensor (bool) in `masks` and
    returns the mask its layer reads (None when it reads none; a list, an input's mask or
    None, for a layer that reads_input_masks)."""
    layer = node.layer
    present = [m for m in inbound_masks(node, masks) if m is not None]
    if getattr(layer, "mask_zero", False):
        zero = g.c(0, model.nodes[node.inbound[0]].dtype)
        masks[node.name] = g.op("Not", g.op("Equal", args[0], zero))
    elif creates_mask(layer):   # Masking
        masks[node.name] = layer.onnx_mask(g, args[0])
    elif node.masked and _joins_steps(layer, len(model.inbound_shapes(node)[0])):
        masks[node.name] = g.op("Concat", *[_onnx_ones(g, x) if m is None else m for m, x in
                                            zip(inbound_masks(node, masks), args)],
                                axis=_mask_axis(layer, len(model.inbound_shapes(node)[0])))
    elif node.masked and type(layer).__name__ in MERGE and len(present) > 1:
        masks[node.name] = _or_all(g, present)
    elif node.masked:
        masks[node.name] = present[0]
    if getattr(layer, "consumes_mask", False) and present:
        return present[0]
    if getattr(layer, "reads_input_masks", False) and present:
        return inbound_masks(node, masks)
    return None


def _onnx_ones(g, x):
    """An all-true mask for x's steps (its shape but the last axis)."""
    from nnctl.onnx.graph import BOOL

    steps = g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([-1]))
    return g.op("Not", g.op("Cast", g.op("ConstantOfShape", steps), to=BOOL))


def _or_all(g, masks):
    result = masks[0]
    for m in masks[1:]:
        result = g.op("Or", result, m)
    return result
