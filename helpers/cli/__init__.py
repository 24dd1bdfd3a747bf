"""Layer 9 (cli): `python -m helpers <command>`."""
