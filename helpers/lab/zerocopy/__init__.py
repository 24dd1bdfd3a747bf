"""Notebook 03: zero-copy by buffer address (`buffers`), the round trip's copy ledger (`ledger`),
array vs column layouts (`layouts`).
"""
