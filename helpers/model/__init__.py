"""Layer 1 (model): the deterministic feature table, the LightGBM model, the worker-side booster
cache."""
