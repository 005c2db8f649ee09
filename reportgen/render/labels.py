"""The one table of names the page and report.md show for the predictors and the rankers.

The templates read it as the global `labels` (`labels.predictors["bias"]`), the Markdown
from here, so the two never drift apart.
"""

from __future__ import annotations

from types import MappingProxyType

PREDICTORS = MappingProxyType(
    {
        "model": "This model (biases and latent factors)",
        "bias": "User and item biases only",
        "global_mean": "Global mean",
    }
)
RANKERS = MappingProxyType({"model": "This model", "popularity": "Most-rated items", "random": "Random items"})
