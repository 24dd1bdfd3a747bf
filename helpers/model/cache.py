"""The worker-side booster cache: one parsed LightGBM booster per Python worker process and model
(keyed by the session), so a model shipped as text is parsed once, not once per batch.
"""

from __future__ import annotations

from typing import Callable

from helpers.core.config import LabError

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

    return cached_booster(text, lambda: lgb.Booster(model_str=require_model_text(text)))


def require_model_text(text, where: str = "the model text") -> str:
    """`text` if it looks like a whole LightGBM text model (a header, trees, the closing
    'end of trees'); else a one-line LabError, so a truncated model never reaches LightGBM's
    parser (which aborts the process on some truncations)."""
    if not isinstance(text, str) or not text.startswith("tree") or "end of trees" not in text:
        raise LabError(
            f"{where} is not a whole LightGBM model (truncated or corrupt): rebuild it with "
            "`python -m helpers setup`."
        )
    return text
