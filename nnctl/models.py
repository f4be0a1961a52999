"""Keras' `keras.models`: Sequential, Model, load_model, model_from_json, clone_model.

    from nnctl.models import Sequential
"""
from nnctl.api.models import (Model, Sequential, clone_model, load_model, model_from_json,
                              save_model)

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
