"""The yardsticks the model is measured against: two simple predictors on the same split.

A global mean, and Koren's damped user + item biases fitted by alternating least
squares, both fitted on the training ratings only and scored on the validation
ratings the model is scored on. They work on the model's codes (0: unseen in
training, which gets bias 0) with `np.bincount`: linear in the ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Item biases shrink towards 0 with λ_item pseudo-ratings, user biases with
# λ_user; a few alternating sweeps converge to 4 decimals.
LAMBDA_ITEM, LAMBDA_USER, SWEEPS = 25.0, 10.0, 5


@dataclass(frozen=True)
class Baselines:
    """Validation RMSE of two simple predictors beside the model's, on the same split."""

    global_mean_rmse: float
    bias_only_rmse: float
    model_rmse: float
    global_mean: float

    def against_mean(self, rmse: float) -> float | None:
        """How much lower (negative) or higher `rmse` is than the global mean's, as a ratio; None if that is 0."""
        return (rmse - self.global_mean_rmse) / self.global_mean_rmse if self.global_mean_rmse > 0 else None


@dataclass(frozen=True)
class Guesses:
    """The two predictors' guesses for each validation rating, in the split's order."""

    global_mean: np.ndarray
    bias_only: np.ndarray


def guess(codes: np.ndarray, ratings: np.ndarray, train_rows: np.ndarray, valid_rows: np.ndarray) -> Guesses:
    """Fit both predictors on the training rows; guess every validation rating.

    `codes[:, 0]` and `codes[:, 1]` are each rating's user and item rows (0 for
    unseen); the bias guess is clipped to the training ratings' range.
    """
    users, items = codes[:, 0], codes[:, 1]
    tu, ti = users[train_rows], items[train_rows]
    tr = np.asarray(ratings, dtype=np.float64)[train_rows]
    mu = float(tr.mean())
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    user_count = np.bincount(tu, minlength=n_users)
    item_count = np.bincount(ti, minlength=n_items)
    user_bias, item_bias = np.zeros(n_users), np.zeros(n_items)
    for _ in range(SWEEPS):  # code 0 has no training rating; its bias is set to 0 below
        with np.errstate(invalid="ignore", divide="ignore"):  # undamped (λ = 0), code 0 divides 0 by 0
            item_bias = np.bincount(ti, tr - mu - user_bias[tu], minlength=n_items) / (LAMBDA_ITEM + item_count)
            user_bias = np.bincount(tu, tr - mu - item_bias[ti], minlength=n_users) / (LAMBDA_USER + user_count)
        user_bias[0] = item_bias[0] = 0.0
    vu, vi = users[valid_rows], items[valid_rows]
    bias_only = np.clip(mu + user_bias[vu] + item_bias[vi], tr.min(), tr.max())
    return Guesses(global_mean=np.full(len(valid_rows), mu), bias_only=bias_only)


def summarise(guesses: Guesses, truth: np.ndarray, model_rmse: float) -> Baselines:
    """Each predictor's validation RMSE beside the model's."""

    def rmse(predicted: np.ndarray) -> float:
        return float(np.sqrt(np.mean((truth - predicted) ** 2)))

    mean = float(guesses.global_mean[0]) if len(guesses.global_mean) else float("nan")
    return Baselines(
        global_mean_rmse=rmse(guesses.global_mean),
        bias_only_rmse=rmse(guesses.bias_only),
        model_rmse=model_rmse,
        global_mean=mean,
    )
