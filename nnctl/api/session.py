"""The state a Python session shares, as in Keras: default names and the random generator.

Keras 3 numbers default names per process (`dense`, `dense_1`, ... across every model made
since start-up or since `clear_session()`), and draws new weights on every build unless
`keras.utils.set_random_seed(n)` was called. Both live here, the only global state of the API.
"""
from __future__ import annotations

import collections

import numpy as np

_name_uids: collections.Counter = collections.Counter()
_rng: np.random.Generator | None = None


def to_snake_case(name: str) -> str:
    """Keras' default-name stem for a class name: `MyModel` -> `my_model`."""
    from nnctl.layers import default_name

    return default_name(type(name, (), {}))


def unique_name(stem: str) -> str:
    """The next default name for `stem` in this session: `dense`, then `dense_1`, ..."""
    count = _name_uids[stem]
    _name_uids[stem] += 1
    return stem if count == 0 else f"{stem}_{count}"


def clear_session() -> None:
    """Start the default names again from `dense`, `sequential`, ..., as Keras' clear_session.

    >>> import nnctl
    >>> nnctl.utils.clear_session()
    >>> nnctl.layers.Dense(3).name
    'dense'
    """
    _name_uids.clear()


def set_random_seed(seed: int) -> None:
    """Make the weights drawn from now on reproducible, as `keras.utils.set_random_seed`.

    Without it, every model built draws new weights (as Keras does).

    >>> import nnctl
    >>> nnctl.utils.set_random_seed(42)
    >>> a = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)]).get_weights()
    >>> nnctl.utils.set_random_seed(42)
    >>> b = nnctl.Sequential([nnctl.Input((3,)), nnctl.layers.Dense(2)]).get_weights()
    >>> bool((a[0] == b[0]).all())
    True
    """
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed takes a non-negative integer, got {seed!r}")
    _rng = np.random.default_rng(int(seed))


def random_generator() -> np.random.Generator:
    """The session's generator: seeded by set_random_seed, else fresh from the OS."""
    global _rng
    if _rng is None:
        _rng = np.random.default_rng()
    return _rng


_generation = 0


def touch() -> None:
    """Say that a layer changed (`layer.trainable = False`): models derive their spec again."""
    global _generation
    _generation += 1


def generation() -> int:
    return _generation
