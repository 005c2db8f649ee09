"""The fastai collaborative-filtering tutorial as a plain script: the baseline for timing.

`/work/shared/seed/collab-tutorial.md` (fastai's "Collaborative filtering tutorial"),
run top to bottom, with its typos fixed (`ratings.merger` -> `merge`, `learner` ->
`learn`, the missing `fac0, fac1, fac2 = movie_pca.t()` and `movie_comp`) and three
changes so that it runs unattended and offline:

- the ratings and titles come from reportgen's offline copy of MovieLens 100k
  (`reportgen.data.dataset.load(download=None)`, the same table `reportgen build` reads)
  instead of `untar_data(URLs.ML_100k)`;
- `set_seed(42)` and `seed=42` fix the split and the weights, so the printed
  validation MSE can be compared with `reportgen build`'s;
- the notebook's displays are printed, and the plot is saved to a PNG (Agg backend)
  instead of `plt.show()`.

    .venv/bin/python benchmarks/tutorial.py [--out PLOT.png]

`benchmarks/train_speed.py --end-to-end` times this script against `reportgen build`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from operator import itemgetter

started = time.perf_counter()

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from fastai.collab import *  # noqa: E402,F403
from fastai.tabular.all import *  # noqa: E402,F403

from reportgen.data import dataset as data  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--out", default=os.path.join(tempfile.gettempdir(), "tutorial-scatter.png"), help="where to save the plot"
)
args = parser.parse_args()

set_seed(42, reproducible=True)  # noqa: F405

# Ratings and titles (the tutorial: two read_csv calls on u.data and u.item, then a merge).
ratings = data.load(download=None).frame.rename(columns={"item": "movie"})[["user", "movie", "rating", "title"]]
print(ratings.head())

# Create DataLoader: by default the first column is the user, the second the item, the
# third the rating; `item_name` makes the titles the items.
dls = CollabDataLoaders.from_df(ratings, item_name="title", bs=64, seed=42)  # noqa: F405
dls.show_batch()

# Create collab learner: a simple dot product model with 50 latent factors.
learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5))  # noqa: F405
learn.fit_one_cycle(5, 5e-3, wd=0.1)
print(f"valid MSE {float(learn.recorder.values[-1][1]):.4f}")

# Interpretation
g = ratings.groupby("title")["rating"].count()
top_movies = g.sort_values(ascending=False).index.values[:1000]
print(top_movies[:10])

# Movie bias
movie_bias = learn.model.bias(top_movies, is_item=True)
mean_ratings = ratings.groupby("title")["rating"].mean()
movie_ratings = [(b, i, mean_ratings.loc[i]) for i, b in zip(top_movies, movie_bias)]
item0 = lambda o: o[0]  # noqa: E731
print(sorted(movie_ratings, key=item0)[:15])
print(sorted(movie_ratings, key=lambda o: o[0], reverse=True)[:15])

# Movie weights and their PCA
movie_w = learn.model.weight(top_movies, is_item=True)
movie_pca = movie_w.pca(3)
fac0, fac1, fac2 = movie_pca.t()
movie_comp = [(f, i) for f, i in zip(fac0, top_movies)]
print(sorted(movie_comp, key=itemgetter(0), reverse=True)[:10])
print(sorted(movie_comp, key=itemgetter(0))[:10])
movie_comp = [(f, i) for f, i in zip(fac1, top_movies)]
print(sorted(movie_comp, key=itemgetter(0), reverse=True)[:10])
print(sorted(movie_comp, key=itemgetter(0))[:10])

idxs = list(range(50))
X = fac0[idxs]
Y = fac2[idxs]
plt.figure(figsize=(15, 15))  # noqa: F405
plt.scatter(X, Y)  # noqa: F405
for i, x, y in zip(top_movies[idxs], X, Y):
    plt.text(x, y, i, color=np.random.rand(3) * 0.7, fontsize=11)  # noqa: F405
plt.savefig(args.out)  # noqa: F405
plt.close("all")  # noqa: F405
print(f"tutorial done in {time.perf_counter() - started:.1f} s; plot {args.out}")
