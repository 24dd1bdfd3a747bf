"""Layer 7 (viz): charts, the HTML flame graph, widgets and the Markdown rendering of findings.
Nothing here measures.
"""
