"""The walks over a graph of layers, from its outputs back towards its inputs.

Any graph will do: the caller says how to go from a node to the nodes it reads
(`inbound(node)`), so the engine's nodes (by name, nnctl.model), a spec's layers before they
are built, and the Python API's layer calls (nnctl.api) share these walks. Both use an
explicit stack, never recursion: a chain of 100,000 layers is walked like any other.
"""
from __future__ import annotations


class Cycle(Exception):
    """A walk met a node on its own way back: `path` goes from that node round to it again."""

    def __init__(self, path: list):
        super().__init__(" -> ".join(map(str, path)))
        self.path = path


def ancestors(starts, inbound, key=None) -> list:
    """`starts` and every node on the way to them, each once, in the order a depth-first
    walk back from them meets them. `key(node)` is what makes two nodes one (default: the
    node itself, which must then be hashable)."""
    reached, seen, stack = [], set(), list(starts)
    while stack:
        node = stack.pop()
        k = node if key is None else key(node)
        if k not in seen:
            seen.add(k)
            reached.append(node)
            stack.extend(inbound(node))
    return reached


def depth_first(roots, inbound, done=()) -> tuple[list, list]:
    """Walk back from each root in turn, depth-first, taking a node's inbound nodes in their
    order: (met, finished), the nodes in the order the walk first meets them and in the order
    it is done with them. `finished` is a topological order (each node after the nodes it
    reads). Nodes in `done` count as walked already: they are not entered. A cycle raises
    Cycle."""
    done = set(done)
    met, finished = [], []
    for root in roots:
        if root in done:
            continue
        met.append(root)
        path, on_path, pending = [root], {root: 0}, [iter(inbound(root))]
        while pending:
            ref = next(pending[-1], None)
            if ref is None:
                node = path.pop()
                del on_path[node]
                pending.pop()
                done.add(node)
                finished.append(node)
            elif ref in on_path:
                raise Cycle(path[on_path[ref]:] + [ref])
            elif ref not in done:
                met.append(ref)
                on_path[ref] = len(path)
                path.append(ref)
                pending.append(iter(inbound(ref)))
    return met, finished
