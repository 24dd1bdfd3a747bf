"""Layer 2 (workers): entry points Spark or the kit starts as separate Python processes
(`spark.python.daemon.module` values and the physical-limit child). Public module names.
"""
