"""Masks: which steps of a sequence are padding, as `Embedding(mask_zero=True)` says.

Keras attaches a mask to a tensor and hands it on from layer to layer (keras/src/layers/
layer.py): a layer that supports masking passes it on (or combines several, as the merge
layers do: all of them), any other drops it. Only some layers change their results by it;
of those nnctl computes the recurrent ones (a masked step leaves the state as it was, see
nnctl.layers.recurrent) and refuses the others, rather than compute something else.
"""
from __future__ import annotations

import numpy as np

from nnctl.layers.base import ArgError

# Layers that hand a mask on unchanged (Keras: supports_masking, compute_mask = the input's).
PASS_ON = {"Dense", "Activation", "Dropout", "BatchNormalization", "LayerNormalization",
           "ReLU", "LeakyReLU", "PReLU", "ELU", "Rescaling", "Normalization",
           "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D"}
# Merge layers: the output's mask is every input's mask and-ed (the unmasked count as ones).
MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}
# Layers whose results Keras computes differently under a mask, and nnctl does not (yet).
USES_MASK = {"Softmax", "GlobalAveragePooling1D", "Attention", "AdditiveAttention",
             "MultiHeadAttention", "GroupedQueryAttention", "TimeDistributed"}


def output_masked(layer, inbound, index) -> bool:
    """Whether `layer`'s first output carries a mask, given its inbound nodes (and which of
    their outputs it reads); refuses, as an ArgError, a mask that nnctl cannot honour."""
    kind = type(layer).__name__
    if getattr(layer, "mask_zero", False):
        return True
    masked = [node.masked and k == 0 for node, k in zip(inbound, index)]
    if not any(masked):
        return False
    source = inbound[masked.index(True)].name
    if getattr(layer, "consumes_mask", False):
        return layer.return_sequences
    if kind in PASS_ON:
        return True
    if kind in MERGE:
        if kind == "Concatenate" and layer.axis not in (-1, len(inbound[0].shape)):
            raise ArgError("axis", f"layer '{layer.name}': its inputs carry a mask (from "
                                   f"'{source}', mask_zero) and Keras would concatenate "
                                   "the masks along this axis; nnctl supports masks only "
                                   "with the last axis")
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
    else:
        values = layer.call(args, weights)
    if not node.masked:
        return values, None
    if getattr(layer, "mask_zero", False):
        return values, layer.compute_mask(args)
    if type(layer).__name__ in MERGE:
        present = [m for m in inbound if m is not None]
        mask = present[0] if len(present) == 1 else np.logical_and.reduce(present)
    return values, mask


def onnx_mask(g, model, node, args, masks) -> str | None:
    """call_masked for the ONNX graph: records the node's mask tensor (bool) in `masks` and
    returns the mask its layer reads (None when it reads none)."""
    layer = node.layer
    present = [m for m in inbound_masks(node, masks) if m is not None]
    if getattr(layer, "mask_zero", False):
        zero = g.c(0, model.nodes[node.inbound[0]].dtype)
        masks[node.name] = g.op("Not", g.op("Equal", args[0], zero))
    elif node.masked and type(layer).__name__ in MERGE and len(present) > 1:
        masks[node.name] = _and_all(g, present)
    elif node.masked:
        masks[node.name] = present[0]
    if getattr(layer, "consumes_mask", False) and present:
        return present[0]
    return None


def _and_all(g, masks):
    result = masks[0]
    for m in masks[1:]:
        result = g.op("And", result, m)
    return result
