"""The analysis's settings, each stated once: the API, the CLI and the pipeline read them here."""

TOP_N = 1000  # how many of the most-rated items are analysed
K = 10  # the ranking metrics' cut-off: precision@K, recall@K, NDCG@K, MAP@K, hit rate@K
