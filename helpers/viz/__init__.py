"""Layer 7 (viz): charts (one colour per inference path, from `style`), the HTML flame graph,
widgets and the Markdown rendering of findings. Charts only draw what the layers below returned;
the one exception is a widget's view (a function named `*_view`): moving its control reruns one
small experiment of `helpers.lab` or `helpers.profile`, then draws it.
"""
