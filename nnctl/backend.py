"""Keras' `keras.backend` that nnctl has: clear_session (default names start again).

    import nnctl
    nnctl.backend.clear_session()
"""
from nnctl.api.session import clear_session

__all__ = ["clear_session"]
