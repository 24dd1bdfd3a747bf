"""Helpers for the 'Zero-Copy or Zero-Speed' notebooks, in layers (docs/ARCHITECTURE.md)."""

# The layers, bottom to top: a module imports only from its own layer (without cycles) and from
# the layers before it (tests/test_layers.py). `python -m helpers layers` prints their modules.
LAYERS = (
    "core", "model", "workers", "inference", "measure", "profile", "lab", "viz", "exercises", "cli",
)  # fmt: skip
