"""Layer 6 (lab): one module (or subpackage) per notebook topic; each runs an experiment and
returns plain data.
"""
