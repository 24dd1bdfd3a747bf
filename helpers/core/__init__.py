"""Layer 0 (core): configuration, validation and parsing of inputs, the machine (Java, jars), the
Spark session and its processes, a local standalone cluster, the kit's zip for executors, the
progress reports of long functions.
Imports nothing else from `helpers`.
"""
