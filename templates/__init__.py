"""The report's Jinja templates, installed as the package `reportgen.templates`.

pyproject.toml maps this top-level folder into the package so that an installed
wheel carries the templates; `reportgen.render.html` finds them with importlib.resources.
"""
