"""Keras' `keras.utils` that nnctl has: plot_model, set_random_seed, clear_session.

    import nnctl
    nnctl.utils.set_random_seed(0)
    nnctl.utils.plot_model(model, to_file="model.svg", show_shapes=True)
"""
from nnctl.api.plotting import plot_model
from nnctl.api.session import clear_session, set_random_seed

__all__ = ["clear_session", "plot_model", "set_random_seed"]
