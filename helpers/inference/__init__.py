"""Layer 3 (inference): the inference scenarios, one registry of paths over the same data and
model."""
