"""Name lookup shared by every registry: Keras spellings, aliases, and did-you-mean."""
from __future__ import annotations

import difflib
import re

_SEPARATORS = re.compile(r"[_\-\s]")


def normalize_key(name: str) -> str:
    """The form names are compared in: lower case, no underscores or dashes.

    Keras accepts both `glorot_uniform` and `GlorotUniform`; comparing on this key makes
    `he_normal`, `HeNormal` and `henormal` the same name without a table of spellings.
    """
    return _SEPARATORS.sub("", name).lower()


def did_you_mean(name: str, choices) -> str:
    """A ` (did you mean 'x'?)` suffix, or '' when nothing is close."""
    choices = sorted(set(choices))
    by_key = {normalize_key(c): c for c in choices}
    close = difflib.get_close_matches(normalize_key(name), list(by_key), n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{by_key[close[0]]}'?)"
    return ""


class Registry:
    """Names -> objects, looked up the way Keras does: case and underscores do not matter.

    `kind` is what the objects are called in messages ("activation", "initializer").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._by_key: dict[str, object] = {}
        self._canonical: dict[str, str] = {}  # key -> canonical name

    def register(self, name: str, obj, aliases=()) -> None:
        for n in (name, *aliases):
            key = normalize_key(n)
            self._by_key[key] = obj
            self._canonical[key] = name

    def names(self) -> list[str]:
        """Canonical names, in registration order."""
        return list(dict.fromkeys(self._canonical.values()))

    def canonical(self, name: str) -> str:
        return self._canonical[self._key_or_raise(name)]

    def __contains__(self, name: str) -> bool:
        return isinstance(name, str) and normalize_key(name) in self._by_key

    def get(self, name: str):
        return self._by_key[self._key_or_raise(name)]

    def _key_or_raise(self, name) -> str:
        from nnctl.errors import ParameterError

        if not isinstance(name, str):
            raise ParameterError(f"{self.kind} name must be a string, got {name!r}")
        key = normalize_key(name)
        if key not in self._by_key:
            # a dotted path as code writes it (tf.nn.relu, keras.initializers.he_normal): its
            # last part is the name
            raise ParameterError(f"unknown {self.kind} '{name}'"
                                 + (did_you_mean(name.rsplit(".", 1)[-1], self.names()) or
                                    f" (known: {', '.join(self.names())})"))
        return key


MAX_NAME_LENGTH = 255  # characters in a model, input or layer name (docs/limits.md)
# C0 and C1 control characters (NUL, ESC, newline...), the line/paragraph separators and the
# bidirectional-text controls: a name with them would move a terminal's cursor, split an error
# line or a CSV header, or show a summary's row in another order than it is written
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e"
                      "\u2066-\u2069]")   # the bidi controls: Unicode's Bidi_Control property


def name_problem(name: str) -> str | None:
    """What is wrong with a model, input or layer name (to follow "layer name ..."), or None."""
    bad = _CONTROL.search(name)
    if bad:
        return (f"cannot contain control characters, got {name[:80]!r} "
                f"(U+{ord(bad.group()):04X} at character {bad.start() + 1})")
    if "/" in name:   # Keras refuses it too: it separates a weight's path, LAYER/WEIGHT
        return (f"cannot contain the character '/', got {name[:80]!r} (Keras refuses it: it "
                "separates the parts of a weight's path, LAYER/WEIGHT)")
    if len(name) > MAX_NAME_LENGTH:
        return (f"is {len(name):,} characters long, more than the {MAX_NAME_LENGTH} allowed: "
                f"{name[:40]!r}...")
    return None
