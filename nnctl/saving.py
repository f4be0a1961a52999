"""Keras' `keras.saving`: load_model and save_model (Keras 3's place for them).

    import nnctl as keras
    model = keras.saving.load_model("model.keras")
"""
from nnctl.api.models import load_model, save_model

__all__ = ["load_model", "save_model"]
