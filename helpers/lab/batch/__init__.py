"""Notebook 04: the maxRecordsPerBatch sweep (`sweep`), its Goldilocks zone (`zone`), the tuner
(`tuner`) and the crash lab (`crash`).
"""
