"""Layer 7 (viz): charts (one colour per inference path, from `style`), the HTML flame graph,
widgets and the Markdown rendering of findings. Nothing here measures.
"""
