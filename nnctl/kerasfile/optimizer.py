"""The optimizer state Keras counts in the summary of a compiled model (`Optimizer params`).

A `.keras` archive saved from a compiled model holds `compile_config` (the optimizer's class
and arguments). Keras' `load_model` compiles the model again and builds the optimizer for its
trainable variables, so its summary adds a line ` Optimizer params: N (bytes)` and counts N in
`Total params` (keras/src/utils/summary_utils.py). N follows from the optimizer, not from the
variables the archive stores (a model compiled but never trained stores two): the step counter
and learning rate (scalars, unless the learning rate is a schedule), and per trainable variable
as many slots of its shape and dtype as the optimizer keeps (Adam's momentum and velocity).
nnctl's summary prints the same line (nnctl.summary.Summary.optimizer).
"""
from __future__ import annotations

from dataclasses import dataclass

# slots per trainable variable of each Keras optimizer (keras/src/optimizers/*.py, build)
_SLOTS = {"Adam": 2, "AdamW": 2, "Adamax": 2, "Adadelta": 2, "Nadam": 2, "Ftrl": 2, "Lamb": 2,
          "Adagrad": 1, "Lion": 1}
# the step counter: Keras' dtype "int", int32 with its NumPy and JAX backends (int64 with
# TensorFlow's: 4 bytes more there)
ITERATION_BYTES = 4


@dataclass(frozen=True)
class OptimizerState:
    """What a compiled model's optimizer holds: `scalars` values of `scalar_bytes` in all,
    and `slots` arrays the shape and dtype of each trainable variable."""

    name: str
    scalars: int
    scalar_bytes: int
    slots: int

    def count(self, trainable_params: int) -> int:
        return self.scalars + self.slots * trainable_params

    def nbytes(self, trainable_bytes: float) -> float:
        return self.scalar_bytes + self.slots * trainable_bytes


def optimizer_state(config) -> OptimizerState | None:
    """The optimizer of a `.keras` archive's config.json (its `compile_config`), or None when
    the model was not compiled or its optimizer is one nnctl does not count (Adafactor, Muon,
    a LossScaleOptimizer, or a config it does not recognize)."""
    compiled = config.get("compile_config") if isinstance(config, dict) else None
    optimizer = compiled.get("optimizer") if isinstance(compiled, dict) else None
    if isinstance(optimizer, str):   # compile("adam"): Keras' defaults
        optimizer = {"class_name": optimizer, "config": {}}
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("config", {}), dict):
        return None
    name = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW",
            "adagrad": "Adagrad", "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam",
            "ftrl": "Ftrl", "lion": "Lion", "lamb": "Lamb"}.get(
                str(optimizer.get("class_name", "")).lower())
    if name is None:
        return None
    args = optimizer.get("config") or {}
    slots = _SLOTS.get(name, 0)
    if name in ("Adam", "AdamW") and args.get("amsgrad"):
        slots += 1
    if name == "SGD" and args.get("momentum", 0.0):
        slots += 1
    if name == "RMSprop":
        slots += 1 + bool(args.get("momentum", 0.0)) + bool(args.get("centered"))
    if args.get("use_ema"):
        slots += 1
    if args.get("gradient_accumulation_steps"):
        slots += 1
    scalars, scalar_bytes = 1, ITERATION_BYTES
    if not isinstance(args.get("learning_rate", 0.001), dict):   # a schedule: no variable
        scalars, scalar_bytes = scalars + 1, scalar_bytes + 4
    if name == "Nadam":   # its running product of momentum factors
        scalars, scalar_bytes = scalars + 1, scalar_bytes + 4
    return OptimizerState(name, scalars, scalar_bytes, slots)
