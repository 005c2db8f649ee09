"""What the evaluation reads: `QualityInputs`, the codes, ratings and predictions of both splits.

Below everything that evaluates (`ranking`, `quality`), so that neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.analysis.workers import Workers, serial


@dataclass(frozen=True)
class SplitRatings:
    """Each split's user and item codes and ratings, gathered once for everything that reads them."""

    train_users: np.ndarray  # int, (n_train,)
    train_items: np.ndarray
    train_ratings: np.ndarray  # float64
    valid_users: np.ndarray  # int, (n_valid,)
    valid_items: np.ndarray
    valid_ratings: np.ndarray
    rating_scale: tuple[float, float]  # the lowest and highest of every rating

    @classmethod
    def gather(
        cls, codes: np.ndarray, ratings: np.ndarray, split: tuple[np.ndarray, np.ndarray], pool: Workers | None = None
    ) -> SplitRatings:
        """`codes[:, 0]` and `codes[:, 1]`: every rating's user and item code; `split`: (train, valid) row numbers.

        The six gathers (random reads over every rating: most of the time at scale) run on `pool`'s threads.
        """
        users, items = codes[:, 0], codes[:, 1]
        ratings = np.asarray(ratings, dtype=np.float64)
        gathered = (pool or serial()).all(
            [lambda a=a, rows=rows: np.take(a, rows) for rows in split for a in (users, items, ratings)]
        )
        return cls(*gathered, (float(ratings.min()), float(ratings.max())))


@dataclass(frozen=True)
class QualityInputs:
    """What the evaluation reads: codes, ratings and predictions of both splits, and the model's arrays.

    Codes index the rows of the factor and bias arrays; code 0 is a user or item the
    model never saw in training. `*_predictions` are on the validation ratings, in
    their order. `rating_scale` is the (lowest, highest) rating observed.
    """

    train_users: np.ndarray  # int, (n_train,)
    train_items: np.ndarray
    train_ratings: np.ndarray  # float
    valid_users: np.ndarray  # int, (n_valid,)
    valid_items: np.ndarray
    valid_ratings: np.ndarray
    model_predictions: np.ndarray  # float, (n_valid,)
    bias_predictions: np.ndarray
    mean_predictions: np.ndarray
    user_factors: np.ndarray  # (n_user_codes, factors)
    user_biases: np.ndarray  # (n_user_codes,)
    item_factors: np.ndarray  # (n_item_codes, factors)
    item_biases: np.ndarray  # (n_item_codes,)
    y_range: tuple[float, float]
    rating_scale: tuple[float, float]
    item_labels: Sequence[str]  # item_labels[code]; item_labels[0] is "#na#"

    def __post_init__(self) -> None:
        """Mis-wired arrays fail here, with their names, rather than as a numpy error deep in `evaluate`."""
        n_train, n_valid = len(self.train_users), len(self.valid_users)
        lengths = {
            "train_items": (len(self.train_items), n_train),
            "train_ratings": (len(self.train_ratings), n_train),
            "valid_items": (len(self.valid_items), n_valid),
            "valid_ratings": (len(self.valid_ratings), n_valid),
            "model_predictions": (len(self.model_predictions), n_valid),
            "bias_predictions": (len(self.bias_predictions), n_valid),
            "mean_predictions": (len(self.mean_predictions), n_valid),
            "user_factors": (len(self.user_factors), len(self.user_biases)),
            "item_factors": (len(self.item_factors), len(self.item_biases)),
            "item_labels": (len(self.item_labels), len(self.item_biases)),
        }
        wrong = [f"{name} has {got}, expected {want}" for name, (got, want) in lengths.items() if got != want]
        for name, codes, limit in (
            ("train_users", self.train_users, len(self.user_biases)),
            ("valid_users", self.valid_users, len(self.user_biases)),
            ("train_items", self.train_items, len(self.item_biases)),
            ("valid_items", self.valid_items, len(self.item_biases)),
        ):
            if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= limit):
                wrong.append(f"{name} holds codes outside 0..{limit - 1}")
        if wrong:
            raise ValueError("QualityInputs: " + "; ".join(wrong))
