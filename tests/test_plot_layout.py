"""The shared layered layout: ranks, dummies, crossings, gaps, and the least-squares placement."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import CONFIGS, SPECS
from nnctl.model import load_model
from nnctl.plot.graph import model_graph
from nnctl.plot.layout import crossings, isotonic, layered_layout, longest_path_ranks

SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))


def test_isotonic_matches_brute_force():
    """PAV against the exact answer: the best non-decreasing fit among all block partitions."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 7))
        values, weights = rng.normal(size=n), rng.uniform(0.1, 3, size=n)
        fitted = np.array(isotonic(list(values), list(weights)))
        assert np.all(np.diff(fitted) >= -1e-12)
        best = np.inf
        for cuts in itertools.product([0, 1], repeat=n - 1):   # every split into blocks
            blocks, start = [], 0
            for i, cut in enumerate(cuts, start=1):
                if cut:
                    blocks.append((start, i))
                    start = i
            blocks.append((start, n))
            fit = np.concatenate([[np.average(values[a:b], weights=weights[a:b])] * (b - a)
                                  for a, b in blocks])
            if np.all(np.diff(fit) >= -1e-12):
                best = min(best, float(np.sum(weights * (fit - values) ** 2)))
        assert float(np.sum(weights * (fitted - values) ** 2)) == pytest.approx(best, abs=1e-9)


def test_longest_path_ranks():
    names = ["x", "a", "b", "c", "join"]
    edges = [("x", "a"), ("a", "b"), ("x", "c"), ("b", "join"), ("c", "join")]
    assert longest_path_ranks(names, edges) == {"x": 0, "a": 1, "b": 2, "c": 1, "join": 3}


def test_long_edges_get_one_dummy_per_rank():
    layered = layered_layout(["x", "a", "b", "y"], [("x", "a"), ("a", "b"), ("b", "y"),
                                                    ("x", "y")],
                             lambda n: (10, 5), gap=4, dummy_breadth=1, dummy_gap=2)
    chain = layered.chains[("x", "y")]
    assert chain[0] == "x" and chain[-1] == "y" and len(chain) == 4
    assert [layered.slots[k].rank for k in chain] == [0, 1, 2, 3]
    assert all(layered.slots[k].dummy for k in chain[1:-1])


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_ranks_hold_their_gaps(spec, integer):
    graph = model_graph(load_model(str(spec)))
    sizes = {b.name: (10 + 3 * len(b.name), 4) for b in graph.boxes}
    layered = layered_layout([b.name for b in graph.boxes], graph.edges, sizes.get, gap=3,
                             dummy_breadth=1, dummy_gap=2, integer=integer)
    for rank in layered.ranks:
        for a, b in zip(rank, rank[1:]):
            need = 3 if not (a.dummy or b.dummy) else 2
            assert b.low - a.high >= need - 1e-9
        if integer:
            assert all(float(s.low).is_integer() for s in rank)
    assert min(s.low for s in layered.slots.values()) == 0
    for source, target in graph.edges:
        assert layered.slots[source].rank < layered.slots[target].rank


def test_crossing_reduction_untangles():
    """Written in a tangled order, a graph that can be drawn without crossings is."""
    names = ["a", "b", "c", "a1", "b1", "c1"]
    edges = [("a", "c1"), ("b", "b1"), ("c", "a1")]
    layered = layered_layout(names, edges, lambda n: (10, 4), gap=2, dummy_breadth=1,
                             dummy_gap=1)
    assert crossings(layered) == 0


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_chains_stay_straight(spec):
    """A layer fed by one layer that feeds only it sits right under it (centers aligned)."""
    graph = model_graph(load_model(str(spec)))
    layered = layered_layout([b.name for b in graph.boxes], graph.edges, lambda n: (40, 10),
                             gap=8, dummy_breadth=4, dummy_gap=4)
    outs = {b.name: [e for e in graph.edges if e[0] == b.name] for b in graph.boxes}
    ins = {b.name: [e for e in graph.edges if e[1] == b.name] for b in graph.boxes}
    for a, b in graph.edges:
        if len(outs[a]) == 1 and len(ins[b]) == 1 and len(layered.chains[(a, b)]) == 2:
            assert layered.slots[a].center == pytest.approx(layered.slots[b].center, abs=1e-6)
