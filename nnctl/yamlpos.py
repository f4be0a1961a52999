"""YAML read safely, with the line and column of every value kept for error messages.

Only YAML's standard tags are accepted (no Python objects), duplicate keys are errors, and
alias expansion is bounded so that a "billion laughs" file is refused quickly. The number of
values and the nesting depth are counted while the text is parsed (as a stream of events,
before any node is made), so a 16 MB file of millions of values is refused after reading its
first MAX_NODES. libyaml's parser (CSafeLoader) is used where PyYAML has it: about 10x faster
than the pure-Python one, with the same line and column marks.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnctl.errors import SpecError

MAX_NODES = 100_000   # values after alias expansion; real specs have a few hundred
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "seq", "map")
}


@dataclass(frozen=True)
class Position:
    line: int    # 1-based
    column: int  # 1-based


class Located:
    """A document's values plus a map from key paths to their position in the file.

    A path is a tuple of keys and indexes: ("layers", 2, "units").
    """

    def __init__(self, value, positions: dict[tuple, Position], source: str,
                 key_positions: dict[tuple, Position] | None = None):
        self.value = value
        self.positions = positions
        self.key_positions = key_positions or {}
        self.source = source

    def where(self, path: tuple, key: bool = False) -> Position | None:
        """The position of `path` (of its key, with key=True), or of the nearest enclosing
        value that has one."""
        path = tuple(path)
        if key and path in self.key_positions:
            return self.key_positions[path]
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path)

    def error(self, message: str, path=(), kind=SpecError, key: bool = False) -> SpecError:
        pos = self.where(path, key)
        return kind(message, source=self.source, line=pos.line if pos else None,
                    column=pos.column if pos else None)


def load_yaml(text: str, source: str) -> Located:
    """Parse one YAML document into plain Python values with positions."""
    import yaml  # here, not at the top: model files (JSON) need no PyYAML, ~10 ms of start-up

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        aliases = _check_size(yaml.parse(text, Loader=loader), source)
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "maximum nesting depth" in problem:  # libyaml's own limit, met while scanning ahead
            message = f"the spec is nested more than {MAX_DEPTH} levels deep"
        else:
            message = f"invalid YAML: {problem}"
        if mark and text[mark.index:mark.index + 1] == "\t" and "tab" not in problem:
            message += " (a tab: YAML indents with spaces)"
        raise SpecError(message, source=source,
                        line=mark.line + 1 if mark else None,
                        column=mark.column + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:  # a control character: its str() is two lines
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise SpecError(f"invalid YAML: character U+{char:04X} is not allowed in YAML text",
                        source=source, line=line, column=column) from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise SpecError(f"invalid YAML: {detail}", source=source) from None
    except RecursionError:  # PyYAML composes recursively: a few hundred levels exhaust it
        raise SpecError(f"the spec is nested more than {MAX_DEPTH} levels deep",
                        source=source) from None
    if node is None:
        raise SpecError("the spec is empty", source=source, line=1, column=1)
    if aliases:  # without aliases the values were counted as they were parsed
        _check_expansion(node, source)
    builder = _Builder(source)
    value = builder.build(node, (), 0)
    return Located(value, builder.positions, source, builder.key_positions)


def _check_size(events, source: str) -> None:
    """Refuse a document of more than MAX_NODES values (mapping keys not counted, an alias
    counted once) or nested more than MAX_DEPTH levels, from its parse events as they come.
    Returns the number of aliases (their expansion is checked on the composed nodes)."""
    import yaml

    count = aliases = 0
    containers: list[list[bool]] = []   # per open container: [is a mapping, next is a key]
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            containers.pop()
            continue
        if not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent,
                                  yaml.MappingStartEvent)):
            continue
        top = containers[-1] if containers else None
        if top is not None and top[0]:
            is_key, top[1] = top[1], not top[1]
        else:
            is_key = False
        if not is_key:
            count += 1
            if count > MAX_NODES:
                raise _located(f"the spec has more than {MAX_NODES:,} values; refusing to "
                               "read further", source, event)
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            containers.append([isinstance(event, yaml.MappingStartEvent), True])
            if len(containers) > MAX_DEPTH:
                raise _located(f"the spec is nested more than {MAX_DEPTH} levels deep",
                               source, event)
    return aliases


def _located(message: str, source: str, event) -> SpecError:
    mark = event.start_mark
    return SpecError(message, source=source, line=mark.line + 1, column=mark.column + 1)


def _check_expansion(root, source: str) -> None:
    """Refuse an alias bomb before expanding anything: the number of values each node stands
    for, counted once per node (aliases share their node), in time linear in the file."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        if done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_NODES:
                raise SpecError(f"the spec has more than {MAX_NODES:,} values (an alias bomb?); "
                                "refusing to expand it", source=source,
                                line=node.start_mark.line + 1, column=node.start_mark.column + 1)
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:  # `&a [*a]`: a list that contains itself
                raise SpecError("an alias refers to a value that contains it (a cycle)",
                                source=source, line=child.start_mark.line + 1,
                                column=child.start_mark.column + 1)
            if id(child) not in sizes:
                stack.append((child, False))


def _is_text(value: str) -> bool:
    """False for a lone surrogate ("\\ud800" in YAML or JSON): not a character, and it cannot
    be printed or written as UTF-8 later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_document(value, source: str, limit: int = MAX_DEPTH,
                   max_values: int = MAX_NODES) -> None:
    """Refuse a document read from JSON (a model file's spec) that a YAML spec could not be:
    nested deeper than `limit`, of more than `max_values` values (mapping keys not counted),
    or holding strings that are not text. The caller bounds the parse itself beforehand
    (nnctl.limits.json_values_at_most)."""
    stack, values = [(value, 0)], 1
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise SpecError(f"the spec is nested more than {limit} levels deep", source=source)
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
            values += len(item)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
            values += len(item)
        if values > max_values:
            raise SpecError(f"the spec has more than {max_values:,} values", source=source)
        elif isinstance(item, str) and not _is_text(item):
            raise SpecError(f"{item!r} is not text (a lone surrogate)", source=source)


class _Builder:
    def __init__(self, source):
        import yaml

        self.yaml = yaml
        self.source = source
        self.positions: dict[tuple, Position] = {}
        self.key_positions: dict[tuple, Position] = {}
        self.count = 0
        self.constructor = yaml.SafeLoader("")  # its construct_object builds scalars safely

    def fail(self, node, message):
        return SpecError(message, source=self.source, line=node.start_mark.line + 1,
                         column=node.start_mark.column + 1)

    def build(self, node, path, depth):
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"the spec has more than {MAX_NODES:,} values "
                                  "(an alias bomb?); refusing to expand it")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"the spec is nested more than {MAX_DEPTH} levels deep")
        if node.tag not in _STANDARD_TAGS:
            raise self.fail(node, f"unsupported YAML tag '{node.tag}' "
                                  "(only plain values, lists and mappings are allowed)")
        self.positions[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        yaml = self.yaml
        if isinstance(node, yaml.MappingNode):
            result = {}
            for key_node, value_node in self.pairs(node):
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "mapping keys must be plain values")
                key = self.scalar(key_node)
                if isinstance(key, (list, dict)) or key is None:
                    raise self.fail(key_node, "mapping keys must be plain values")
                if key in result:
                    raise self.fail(key_node, f"duplicate key '{key}'")
                self.key_positions[path + (key,)] = Position(key_node.start_mark.line + 1,
                                                             key_node.start_mark.column + 1)
                result[key] = self.build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def pairs(self, node) -> list:
        """A mapping's (key node, value node) pairs with YAML's merge keys resolved, as
        PyYAML's safe loader resolves them: `<<: *base` (or a list of them) adds the keys of
        the mappings named that the mapping does not give itself, the first one named first."""
        own, merged = [], []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            sources = (value_node.value if isinstance(value_node, self.yaml.SequenceNode)
                       else [value_node])
            for source in sources:
                if not isinstance(source, self.yaml.MappingNode):
                    raise self.fail(source, "a merge key `<<` takes a mapping or a list of "
                                            "mappings")
                merged += self.pairs(source)
        scalar = self.yaml.ScalarNode
        given = {k.value for k, _ in own if isinstance(k, scalar)}
        for key_node, value_node in merged:
            if not isinstance(key_node, scalar) or key_node.value not in given:
                given.add(key_node.value if isinstance(key_node, scalar) else None)
                own.append((key_node, value_node))
        return own

    def scalar(self, node):
        if node.tag not in _STANDARD_TAGS:
            raise self.fail(node, f"unsupported YAML tag '{node.tag}'")
        try:
            value = self.constructor.construct_object(node, deep=True)
        except self.yaml.YAMLError as exc:
            raise self.fail(node, f"invalid value: {getattr(exc, 'problem', exc)}") from None
        except (ValueError, IndexError, KeyError, TypeError, OverflowError):  # `!!int` on text
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise self.fail(node, f"invalid value for {tag}: {node.value!r}") from None
        if isinstance(value, str) and not _is_text(value):
            raise self.fail(node, f"{value!r} is not text (a lone surrogate)")
        return value
