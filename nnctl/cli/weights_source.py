"""Where a command's weights come from: a model file, --weights, or the spec's initializers."""
from __future__ import annotations


def model_and_weights(model_path: str, weights_path: str | None, seed: int | None,
                      drawing_note: bool = True):
    """(Model, weights) for MODEL: its own weights if it is a model file, else --weights, else
    drawn from the spec's initializers with --seed (the spec's `seed:`, else 0).
    drawing_note: say on a terminal when weights are drawn for want of any (not for build,
    whose job that is)."""
    from nnctl.cli.console import message
    from nnctl.cli.models import open_model

    model = open_model(model_path)
    if weights_path is not None:
        from nnctl.kerasfile import keras_kind

        if keras_kind(weights_path) in ("h5", "keras"):   # Keras' .weights.h5, .h5, .keras
            from nnctl.kerasfile import load_weights_h5

            values = load_weights_h5(weights_path, model)
        else:
            from nnctl.weights import load_weights

            values = load_weights(weights_path)
        return model, model.check_weights(values, source=weights_path)
    from nnctl.cli.models import open_weights

    carried = open_weights(model_path)   # a model file's, or a Python model's own
    if carried is not None:
        if model_path == "-":
            model_path = "<stdin>"
        if seed is None:
            return model, model.check_weights(carried, source=model_path)
        from nnctl.cli.console import warn

        warn(f"--seed {seed}: drawing new weights from the initializers instead of the ones "
             f"{model_path} carries")
    if seed is None:
        seed = model.spec.seed if model.spec.seed is not None else 0
        if drawing_note:
            message(f"no weights given: using the spec's initializers with seed {seed} "
                    "(--weights FILE or nnctl build to fix them)")
    return model, model.init_weights(seed)
