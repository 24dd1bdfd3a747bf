"""Layer 3 (paths): the inference scenarios, one registry of paths over the same data and model."""
