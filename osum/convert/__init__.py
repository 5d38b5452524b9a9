"""Conversion: OSUM checkpoints into this model, and a trained model exported as a
self-contained dir."""
