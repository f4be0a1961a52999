"""The layered layout every drawing shares: ranks, order within ranks, positions, ports.

The classic Sugiyama scheme, small enough to read:

1. rank: the longest path from an input, so every edge points down;
2. an edge that spans several ranks becomes a chain of dummy slots, one per rank it crosses,
   so that it gets room of its own and never runs through a box;
3. order: barycenter sweeps down and up (each slot moves to the mean position of its
   neighbours in the rank before), then adjacent swaps; the order with fewest crossings wins;
4. breadth: each slot is pulled toward its neighbours while order and gaps are kept exactly
   (a weighted isotonic regression, solved by pool-adjacent-violators), sweeping down and up;
   long edges pull hardest, so they stay straight (Graphviz' weights 1, 2, 8);
5. depth: each rank is a band as deep as its deepest box; the renderer chooses the gaps.

Coordinates are abstract: `breadth` runs along a rank, `depth` across ranks. A top-to-bottom
drawing maps breadth to x and depth to y; a left-to-right one swaps them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nnctl.graphwalk import Cycle, depth_first

SWEEPS = 8           # ordering sweeps (down + up); small graphs settle in two or three
PLACEMENT_SWEEPS = 12


@dataclass
class Slot:
    """A box, or one rank's piece of a long edge (a dummy), placed along its rank."""

    key: object                  # the box name, or ("dummy", source, target, rank)
    rank: int
    breadth: float               # extent along the rank
    depth: float                 # extent across ranks (0 for a dummy)
    dummy: bool = False
    center: float = 0.0

    @property
    def low(self) -> float:
        return self.center - self.breadth / 2

    @property
    def high(self) -> float:
        return self.center + self.breadth / 2


@dataclass
class Layered:
    """The result: slots rank by rank, and for every edge the chain of slots it runs through."""

    ranks: list[list[Slot]]
    slots: dict
    chains: dict                                 # (source, target) -> [slot keys]
    edge_order: list = field(default_factory=list)
    _segments: dict | None = field(default=None, repr=False)

    @property
    def band_depth(self) -> list[float]:
        return [max((s.depth for s in rank), default=0.0) for rank in self.ranks]

    @property
    def breadth(self) -> float:
        return max((s.high for rank in self.ranks for s in rank), default=0.0)

    def band_starts(self, gaps: list[float], margin: float = 0.0) -> list[float]:
        """Where each rank's band begins, given the gap after each rank but the last."""
        starts, at = [], margin
        for r, depth in enumerate(self.band_depth):
            starts.append(at)
            at += depth + (gaps[r] if r < len(gaps) else 0)
        return starts

    def segments(self, rank: int) -> list[tuple[Slot, Slot, tuple]]:
        """The pieces of edges crossing the gap below `rank`: (upper slot, lower slot, edge)."""
        if self._segments is None:
            self._segments = {}
            for edge in self.edge_order:
                chain = self.chains[edge]
                for a, b in zip(chain, chain[1:]):
                    self._segments.setdefault(self.slots[a].rank, []).append(
                        (self.slots[a], self.slots[b], edge))
        return self._segments.get(rank, [])

    def in_ports(self, integer: bool = False) -> dict:
        """Where each edge enters its target box: spread along the box's near side, in the
        order of where the edges come from, so that they do not cross just above the box."""
        incoming: dict = {}
        for edge in self.edge_order:
            chain = self.chains[edge]
            incoming.setdefault(chain[-1], []).append((self.slots[chain[-2]].center, edge))
        ports = {}
        for key, arriving in incoming.items():
            slot = self.slots[key]
            arriving.sort(key=lambda item: item[0])
            k = len(arriving)
            for i, (_, edge) in enumerate(arriving):
                if integer:  # cells low .. low+breadth-1; one edge: the middle cell
                    ports[edge] = int(slot.low + (slot.breadth - 1) * (i + 1) // (k + 1))
                else:
                    ports[edge] = slot.low + slot.breadth * (i + 1) / (k + 1)
        return ports


def layered_layout(names: list[str], edges: list[tuple[str, str]], size, *, gap: float,
                   dummy_breadth: float, dummy_gap: float, integer: bool = False) -> Layered:
    """Lay out a DAG. `size(name) -> (breadth, depth)`; `names` in a preferred reading order.

    `gap` separates boxes along a rank, `dummy_gap` separates a dummy from its neighbours;
    `integer` rounds positions to whole units (character cells).
    """
    rank = longest_path_ranks(names, edges)
    slots: dict = {}
    for name in names:
        breadth, depth = size(name)
        slots[name] = Slot(name, rank[name], breadth, depth)
    chains = {}
    for source, target in edges:
        chain = [source]
        for r in range(rank[source] + 1, rank[target]):
            key = ("dummy", source, target, r)
            slots[key] = Slot(key, r, dummy_breadth, 0.0, dummy=True)
            chain.append(key)
        chain.append(target)
        chains[(source, target)] = chain
    n_ranks = max(rank.values(), default=-1) + 1
    layered = Layered([[] for _ in range(n_ranks)], slots, chains, list(edges))
    _initial_order(layered, names)
    _reduce_crossings(layered)
    _place(layered, gap, dummy_gap, integer)
    return layered


def longest_path_ranks(names: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Rank 0 for the inputs, else one more than the deepest input of the node."""
    preds: dict[str, list[str]] = {n: [] for n in names}
    for source, target in edges:
        preds[target].append(source)
    try:
        _, in_order = depth_first(names, preds.__getitem__)
    except Cycle as cycle:
        raise ValueError(f"cycle through {cycle.path[0]!r}") from None
    rank: dict[str, int] = {}
    for name in in_order:
        rank[name] = 1 + max((rank[p] for p in preds[name]), default=-1)
    return rank


# --- ordering ----------------------------------------------------------------------------

def _neighbours(layered: Layered):
    """For every slot key: the slot keys one rank up and one rank down."""
    up = {k: [] for k in layered.slots}
    down = {k: [] for k in layered.slots}
    for chain in layered.chains.values():
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
    return up, down


def _initial_order(layered: Layered, names: list[str]) -> None:
    """Depth-first from the inputs in reading order: branches start out next to each other
    (then anything left, which cannot happen in a DAG)."""
    up, down = _neighbours(layered)
    inputs = [name for name in names if not up[name]]
    met, _ = depth_first(inputs + list(layered.slots), down.__getitem__)
    for key in met:
        layered.ranks[layered.slots[key].rank].append(layered.slots[key])


def crossings(layered: Layered) -> int:
    pos = _positions(layered)
    return sum(_crossings_between(layered, r, pos) for r in range(len(layered.ranks) - 1))


def _positions(layered: Layered, ranks=None) -> dict:
    """Slot key -> its index in its rank, for every rank or for the ranks listed."""
    ranks = range(len(layered.ranks)) if ranks is None else ranks
    return {slot.key: i for r in ranks if 0 <= r < len(layered.ranks)
            for i, slot in enumerate(layered.ranks[r])}


def _crossings_between(layered: Layered, r: int, pos: dict) -> int:
    """Pairs of segments below rank r that cross: the inversions of their lower ends once
    sorted by their upper ends, counted by a merge sort (e log e, not e squared)."""
    pairs = sorted((pos[a.key], pos[b.key]) for a, b, _ in layered.segments(r))
    return _inversions([b for _, b in pairs])[1]


def _inversions(values: list) -> tuple[list, int]:
    """(values sorted, the number of pairs i < j with values[i] > values[j])."""
    if len(values) < 2:
        return values, 0
    middle = len(values) // 2
    left, n_left = _inversions(values[:middle])
    right, n_right = _inversions(values[middle:])
    merged, count, i, j = [], n_left + n_right, 0, 0
    while i < len(left) and j < len(right):
        if right[j] < left[i]:
            merged.append(right[j])
            count += len(left) - i
            j += 1
        else:
            merged.append(left[i])
            i += 1
    merged += left[i:] + right[j:]
    return merged, count


def _reduce_crossings(layered: Layered) -> None:
    up, down = _neighbours(layered)
    best = [list(rank) for rank in layered.ranks]
    best_count = crossings(layered)
    for _ in range(SWEEPS):
        if best_count == 0:
            break
        for r in range(1, len(layered.ranks)):
            _barycenter_sort(layered, r, up)
        for r in range(len(layered.ranks) - 2, -1, -1):
            _barycenter_sort(layered, r, down)
        _transpose(layered)
        count = crossings(layered)
        if count < best_count:
            best, best_count = [list(rank) for rank in layered.ranks], count
    layered.ranks = best


def _barycenter_sort(layered: Layered, r: int, neighbours: dict) -> None:
    """Sort rank r by the mean position of each slot's neighbours in the adjacent rank.

    Slots without neighbours there keep their place; the others fill the remaining places.
    """
    pos = _positions(layered, (r - 1, r + 1))   # the neighbours are in the ranks around r
    rank = layered.ranks[r]
    keyed = []
    for i, slot in enumerate(rank):
        near = neighbours[slot.key]
        if near:
            keyed.append((sum(pos[k] for k in near) / len(near), i, slot))
    free = iter(sorted(keyed, key=lambda item: (item[0], item[1])))
    layered.ranks[r] = [slot if not neighbours[slot.key] else next(free)[2] for slot in rank]


def _transpose(layered: Layered) -> None:
    """Swap neighbours in a rank while that lowers the crossings around the rank.

    Swapping u and v changes only the crossings between u's edges and v's, so each swap is
    judged on those (degree of u times degree of v), not on the whole rank's crossings.
    """
    up, down = _neighbours(layered)
    improved, rounds = True, 0
    while improved and rounds < 4:
        improved, rounds = False, rounds + 1
        for r, rank in enumerate(layered.ranks):
            pos = _positions(layered, (r - 1, r + 1))
            for i in range(len(rank) - 1):
                u, v = rank[i].key, rank[i + 1].key
                if _pair_crossings(v, u, pos, up, down) < _pair_crossings(u, v, pos, up, down):
                    rank[i], rank[i + 1] = rank[i + 1], rank[i]
                    improved = True


def _pair_crossings(left, right, pos: dict, up: dict, down: dict) -> int:
    """Crossings between the edges of slot `left` and those of slot `right` placed after it."""
    return sum(pos[a] > pos[b] for near in (up, down)
               for a in near[left] for b in near[right])


# --- placement along the ranks -----------------------------------------------------------

def _edge_weight(a: Slot, b: Slot) -> float:
    return 8.0 if a.dummy and b.dummy else 2.0 if a.dummy or b.dummy else 1.0


def _separation(a: Slot, b: Slot, gap: float, dummy_gap: float) -> float:
    return (a.breadth + b.breadth) / 2 + (gap if not (a.dummy or b.dummy) else dummy_gap)


def _place(layered: Layered, gap: float, dummy_gap: float, integer: bool) -> None:
    up, down = _neighbours(layered)
    for rank in layered.ranks:        # packed from the left to start with
        at = 0.0
        for i, slot in enumerate(rank):
            if i:
                at += _separation(rank[i - 1], slot, gap, dummy_gap)
            slot.center = at
    order = list(range(len(layered.ranks)))
    for sweep in range(PLACEMENT_SWEEPS):
        downward = sweep % 2 == 0
        for r in (order[1:] if downward else order[-2::-1]):
            _pull(layered, layered.ranks[r], up if downward else down, gap, dummy_gap)
    # a last downward sweep: what comes in from above decides, as a reader follows arrows
    for r in order[1:]:
        _pull(layered, layered.ranks[r], up, gap, dummy_gap)
    _straight_lanes(layered, gap, dummy_gap)
    if integer:
        for rank in layered.ranks:
            previous = None
            for slot in rank:
                low = round(slot.low)
                if previous is not None:
                    sep = gap if not (previous.dummy or slot.dummy) else dummy_gap
                    low = max(low, int(previous.low + previous.breadth + sep))
                slot.center = low + slot.breadth / 2
                previous = slot
        _straighten(layered, up, gap, dummy_gap)
        _align_long_edges(layered, gap, dummy_gap)
        _straighten(layered, up, gap, dummy_gap, boxes_only=True)
    shift = -min((s.low for rank in layered.ranks for s in rank), default=0.0)
    for slot in layered.slots.values():
        slot.center += shift


def middle_cell(slot: Slot) -> int:
    """The middle character cell of a slot placed on whole units (left of middle if even)."""
    return int(slot.low) + (int(slot.breadth) - 1) // 2


def _straighten(layered: Layered, up: dict, gap: float, dummy_gap: float,
                boxes_only: bool = False) -> None:
    """On whole cells, rounding leaves one-cell jogs; shift a slot with one edge coming in
    by a cell or two so that the edge runs straight, when its neighbours leave room."""
    for rank in layered.ranks[1:]:
        for slot in rank:
            if len(up[slot.key]) != 1 or (boxes_only and slot.dummy):
                continue
            shift = middle_cell(layered.slots[up[slot.key][0]]) - middle_cell(slot)
            if shift and abs(shift) <= 2 and _fits(layered, slot, shift, gap, dummy_gap):
                slot.center += shift


def _fits(layered: Layered, slot: Slot, shift: float, gap: float, dummy_gap: float) -> bool:
    """Whether `slot` can move by `shift` along its rank without coming too near a neighbour."""
    rank = layered.ranks[slot.rank]
    i = next(j for j, s in enumerate(rank) if s is slot)
    if i > 0:
        left = rank[i - 1]
        if slot.low + shift < left.high + (dummy_gap if left.dummy or slot.dummy else gap):
            return False
    if i + 1 < len(rank):
        right = rank[i + 1]
        if slot.high + shift > right.low - (dummy_gap if right.dummy or slot.dummy else gap):
            return False
    return True


def _straight_lanes(layered: Layered, gap: float, dummy_gap: float) -> None:
    """Put all of a long edge's dummies on one line, where the neighbours leave room:
    the sweeps leave them a little apart, and a lane with kinks looks like a mistake."""
    for chain in layered.chains.values():
        dummies = [layered.slots[k] for k in chain[1:-1]]
        if len(dummies) < 2:
            continue
        centers = sorted({d.center for d in dummies},
                         key=lambda c: -sum(abs(d.center - c) < 1e-9 for d in dummies))
        for c in centers:
            if all(_fits(layered, d, c - d.center, gap, dummy_gap) for d in dummies):
                for d in dummies:
                    d.center = c
                break


def _align_long_edges(layered: Layered, gap: float, dummy_gap: float) -> None:
    """Move a long edge's straight run (its dummies) over the cell where it enters its
    target, so that the bend happens up where the edge leaves its source."""
    ports = layered.in_ports(integer=True)
    for edge, chain in layered.chains.items():
        dummies = [layered.slots[k] for k in chain[1:-1]]
        if not dummies:
            continue
        shift = ports[edge] - middle_cell(dummies[-1])
        if not 0 < abs(shift) <= 2:
            continue
        if all(middle_cell(d) == middle_cell(dummies[-1]) for d in dummies) \
                and all(_fits(layered, d, shift, gap, dummy_gap) for d in dummies):
            for d in dummies:
                d.center += shift
        else:  # move the target instead
            target = layered.slots[chain[-1]]
            if _fits(layered, target, -shift, gap, dummy_gap):
                target.center -= shift
                ports = layered.in_ports(integer=True)


def _pull(layered: Layered, rank: list[Slot], neighbours: dict, gap: float,
          dummy_gap: float) -> None:
    """Move a rank's slots toward their neighbours, keeping order and gaps (least squares)."""
    if not rank:
        return
    desired, weights = [], []
    for slot in rank:
        near = [layered.slots[k] for k in neighbours[slot.key]]
        if near:
            w = [_edge_weight(slot, n) for n in near]
            desired.append(sum(wi * n.center for wi, n in zip(w, near)) / sum(w))
            weights.append(sum(w))
        else:
            desired.append(slot.center)
            weights.append(0.25)
    offsets = [0.0]
    for a, b in zip(rank, rank[1:]):
        offsets.append(offsets[-1] + _separation(a, b, gap, dummy_gap))
    fitted = isotonic([d - o for d, o in zip(desired, offsets)], weights)
    for slot, y, o in zip(rank, fitted, offsets):
        slot.center = y + o


def isotonic(values: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence closest to `values` in weighted least squares (PAV)."""
    blocks: list[list[float]] = []      # [mean, weight, count]
    for v, w in zip(values, weights):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    result = []
    for mean, _, count in blocks:
        result.extend([mean] * count)
    return result
