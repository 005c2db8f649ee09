"""The analysis's settings, each stated once: the API, the CLI and the pipeline read them here."""

from __future__ import annotations

from reportgen.errors import Bound

TOP_N = 1000  # how many of the most-rated items are analysed
K = 10  # the ranking metrics' cut-off: precision@K, recall@K, NDCG@K, MAP@K, hit rate@K
TOP_N_BOUND = Bound(whole=True, low=2)  # a ranking, a PCA and a scatter need two items at least
K_BOUND = Bound(whole=True, low=1, high=1000)
RELEVANT_FROM_BOUND = Bound(whole=False)  # any finite rating


def check_settings(top_n: object, k: object, relevant_from: object = None) -> None:
    """`InputError` naming the setting unless each is one the analysis can use: checked before training.

    A `top_n` or `relevant_from` of None is the default (`TOP_N`; 4 on a 1–5 scale).
    """
    if top_n is not None:
        TOP_N_BOUND.check("top_n", top_n)
    K_BOUND.check("k", k)
    if relevant_from is not None:
        RELEVANT_FROM_BOUND.check("relevant_from", relevant_from)
