"""The worker-side booster cache: one parsed LightGBM booster per Python worker process and model
(keyed by the session), so a model shipped as text is parsed once, not once per batch.
"""

from __future__ import annotations

from typing import Callable

_BOOSTERS: dict = {}


def cached_booster(key, load: Callable):
    """This process's Booster for `key`, built once by `load()` and cached for later tasks
    (Python workers are reused: spark.python.worker.reuse=true)."""
    booster = _BOOSTERS.get(key)
    if booster is None:
        booster = _BOOSTERS[key] = load()
    return booster


def worker_booster(text: str):
    """The Booster for this model text, parsed once per process and cached."""
    import lightgbm as lgb

    return cached_booster(text, lambda: lgb.Booster(model_str=text))
