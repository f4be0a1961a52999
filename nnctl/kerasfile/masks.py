"""The masks a Keras 3 functional config passes explicitly, checked against nnctl's own.

Keras 3 records the mask of `Embedding(mask_zero=True)` in a functional model as an operation,
`NotEqual(tokens, 0)` (and Masking's as `Any(NotEqual(x, mask_value), axis=-1)`), and every
layer that takes a mask as `mask=` that operation's output.
nnctl hands masks on itself (nnctl.masking), so it reads such a file when each explicit mask
is the one nnctl gives that layer anyway, and refuses it, naming the layer, otherwise (a mask
made otherwise, of another tensor, or given to a layer that would get none).
"""
from __future__ import annotations

from nnctl.errors import SpecError
from nnctl.masking import mask_origins, read_mask_origin


def check_masks(graph, model, source: str | None) -> None:
    """Raise SpecError unless every `mask=` in `graph` (a KerasGraph) is the mask `model`
    (its built nnctl Model) gives that node."""
    origins = mask_origins(model)
    for name, op in graph.masks.items():
        node = model.nodes.get(name)
        if node is None:   # not a node of its own: a reader's slip, never a wrong result
            raise SpecError(f"layer '{name}' is called with mask= '{op.name}', and nnctl "
                            "cannot tell which call that is", source=source)
        where = f"{node.label} is called with mask= '{op.name}' ({op.input} != {op.value!r})"
        if op.steps:
            _check_masking(model, node, op, origins, where, source)
            continue
        if op.value != 0:
            raise SpecError(f"{where}; nnctl reads only the mask of Embedding(mask_zero=True), "
                            f"{op.input} != 0", source=source)
        reads = read_mask_origin(node, origins)
        if reads is None:
            raise SpecError(f"{where}, but no Embedding(mask_zero=True) on {op.input} masks "
                            "its input; nnctl reads only the mask that Keras hands on itself",
                            source=source)
        compared, index = model.resolve(op.input)
        if reads != {(compared, index or 0)}:
            made = " and ".join(sorted(f"{model.written(i, k or None)} != 0"
                                       for i, k in reads))
            raise SpecError(f"{where}, but the mask its input carries is {made}; nnctl reads "
                            "only the mask that Keras hands on itself", source=source)


def _check_masking(model, node, op, origins, where: str, source) -> None:
    """`mask=` an Any of a NotEqual (Masking's mask): the input must carry the mask of a
    Masking layer that reads the very tensor compared, with the value compared with."""
    reads = read_mask_origin(node, origins)
    masking = [model.nodes[name] for name, k in reads or () if k == -1]
    compared = model.resolve(op.input)
    if len(masking) != 1 or len(reads) != 1 or (masking[0].inbound[0], masking[0].inbound_index[0]) \
            != (compared[0], compared[1] or 0) or masking[0].layer.mask_value != op.value:
        raise SpecError(f"{where}, over the last axis; nnctl reads such a mask only as the mask "
                        "of a Masking layer on that tensor with that mask_value, which the "
                        "input of this layer does not carry", source=source)
