"""The yardsticks the model is measured against: two simple predictors on the same split.

A global mean, and Koren's damped user + item biases fitted by alternating least
squares, both fitted on the training ratings only and scored on the validation
ratings the model is scored on. They work on the model's codes (0: unseen in
training, which gets bias 0) in a few passes over the training ratings
(`sums.bias_sweeps`): linear in the ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reportgen.analysis import sums
from reportgen.analysis.inputs import SplitRatings

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


def guess(split: SplitRatings) -> Guesses:
    """Fit both predictors on the training ratings; guess every validation rating.

    Codes are the model's rows (0 for unseen, which gets bias 0); the bias guess is
    clipped to the training ratings' range.
    """
    tu, ti, tr = split.train_users, split.train_items, split.train_ratings
    mu = float(tr.mean())
    n_users = max(int(tu.max(initial=0)), int(split.valid_users.max(initial=0))) + 1
    n_items = max(int(ti.max(initial=0)), int(split.valid_items.max(initial=0))) + 1
    user_bias, item_bias = sums.bias_sweeps(
        tu,
        ti,
        tr - mu,
        LAMBDA_USER + np.bincount(tu, minlength=n_users),
        LAMBDA_ITEM + np.bincount(ti, minlength=n_items),
        SWEEPS,
    )
    vu, vi = split.valid_users, split.valid_items
    bias_only = np.clip(mu + user_bias[vu] + item_bias[vi], tr.min(), tr.max())
    return Guesses(global_mean=np.full(len(vu), mu), bias_only=bias_only)


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
