"""Layer 4 (measure): timing and the physical limit, resource samplers, Spark's own metrics."""
