"""reportgen: train a fastai collaborative-filtering model and report what it learned.

The pipeline is `data.load → train.fit → analysis.analyse → render.write`, glued
together by `pipeline.build`; `cli.py` is the only layer that knows about click.
"""

__version__ = "0.1.0"
