"""Layer 5 (profile): collapsed stacks and their classifier, the worker sampler, JFR, py-spy,
memray."""
