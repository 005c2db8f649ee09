"""Tonight's model against a baseline model (yesterday's kept one, or another run's), as a report shows it.

`review` finds the ratings neither model trained on: tonight's held-out ratings that the
baseline's run held out too, each side recomputed from its model's record of how it split
its data (`train.held_out_by`: a stable split's hash on any data, a random split's
permutation only on the identical data, a time split's cutoff). It scores both models on
those ratings (`paired.paired_review`: the differences with bootstrap intervals over users,
the verdict, whose top-k lists changed) and aligns their factor spaces (`movement.movement`,
which needs no held-out ratings). Where no such rating can be established there is no
verdict, and `reason` says why; the factor space is still compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.analysis.bootstrap import NO_VERDICT
from reportgen.analysis.movement import Movement, movement
from reportgen.analysis.paired import PairedReview, paired_review
from reportgen.train.config import comparable_splits
from reportgen.train.splits import held_out_by

if TYPE_CHECKING:
    import pandas as pd

    from reportgen.analysis.factors import FactorMap
    from reportgen.analysis.workers import Workers
    from reportgen.data.types import Ratings
    from reportgen.train.results import FactorModel

REVIEW_SEED = 42  # the bootstrap's and the sampled users' seed: the same interval for the same two models and data


@dataclass(frozen=True)
class Baseline:
    """The model tonight's is reviewed against, and how the report names it (never by a path)."""

    name: str  # its run's folder name, e.g. 20261208T025022Z
    generated_at: str  # when its run wrote its report ("" where unknown)
    model: FactorModel


@dataclass(frozen=True)
class Review:
    """Tonight's model against a baseline, on the ratings neither trained on, and what moved between them."""

    baseline: str  # how the report names the baseline: a run's folder name, never a path
    baseline_generated_at: str  # when the baseline's run wrote its report ("" where unknown)
    splits: tuple[str, str]  # how each run split its data: (the baseline's, tonight's), e.g. ("stable", "stable")
    held_out: int  # tonight's held-out ratings
    compared: int  # of them, those the baseline's run held out too: what `paired` scores
    reason: str  # why there is no verdict ("" where `paired` holds one)
    paired: PairedReview | None
    movement: Movement | None

    @property
    def verdict(self) -> str:
        """`better`, `worse`, `no detectable difference` (from RMSE's interval), or `no verdict`."""
        return self.paired.verdict if self.paired is not None else NO_VERDICT

    @property
    def sentence(self) -> str:
        """What a reviewer reads first: the verdict with both RMSEs and the interval, or why there is none."""
        return self.paired.sentence if self.paired is not None else f"No verdict: {self.reason}."

    @property
    def same_protocol(self) -> bool:
        """Both runs held out the same kind of ratings (`train.config.comparable_splits`: a random or stable share,
        or the latest). Scored on the same ratings the comparison is fair either way, but a model trained under a
        time split learned from fewer recent ratings: part of the difference is then the split's."""
        return comparable_splits(*self.splits)

    def regressed(self, pct: float) -> bool:
        """Worse by more than `pct` % with 95 % confidence (`--fail-on-regression`): never without a verdict, nor
        between runs that split their data differently (a change of protocol is not a regression)."""
        return self.paired is not None and self.same_protocol and self.paired.regressed(pct)


def review_models(
    ratings: Ratings,
    tonight: FactorModel,
    baseline: FactorModel,
    *,
    name: str,
    generated_at: str = "",
    top_items: tuple[str, ...] = (),
    factor_map: FactorMap | None = None,
    k: int,
    threshold: float,
    held_out: np.ndarray | None = None,
    pool: Workers | None = None,
) -> Review:
    """`tonight` (trained on `ratings`, or another run's model on them) against `baseline`, for the report.

    `top_items` and `factor_map`: tonight's analysis (`Analysis.top_items`, `.factor_map`), the items
    whose movement is measured; `k` and `threshold`: the ranking section's, so both models' lists are
    scored as tonight's quality is; `held_out`: tonight's held-out ratings where the caller has them (a
    fit's validation rows), else recomputed from tonight's split record. The same models and data give the
    same numbers on any threads.
    """
    frame, sha256 = ratings.frame, ratings.provenance.sha256
    moved = movement(tonight, baseline, top_items, factor_map) if len(top_items) else None
    splits = (_kind(baseline), _kind(tonight))
    mine = held_out if held_out is not None else held_out_by(frame, tonight.split_spec, sha256, ratings.item_key)
    theirs = held_out_by(frame, baseline.split_spec, sha256, ratings.item_key)
    held_out = int(np.count_nonzero(mine)) if not isinstance(mine, str) else 0

    def without(reason: str, compared: int = 0) -> Review:
        return Review(name, generated_at, splits, held_out, compared, reason, None, moved)

    if isinstance(mine, str):
        return without(f"tonight's model: {mine}")
    if isinstance(theirs, str):
        return without(theirs)
    compared = mine & theirs
    if not compared.any():
        return without("none of tonight's held-out ratings was held out by the baseline's run too")
    (users, user_names), (items, item_names) = _codes(frame["user"]), _codes(frame["title"])
    found = paired_review(
        users,
        items,
        frame["rating"].to_numpy(),
        user_names=user_names,
        item_names=item_names,
        compared=compared,
        trained=~mine,
        tonight=tonight,
        baseline=baseline,
        k=k,
        threshold=threshold,
        seed=REVIEW_SEED,
        pool=pool,
    )
    return Review(name, generated_at, splits, held_out, found.n, "", found, moved)


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """A column's codes and the names they index: a categorical's own (the `Ratings` contract), else factorized."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), column.cat.categories
    codes, names = pd.factorize(column, sort=True)
    return codes, names


def _kind(model: FactorModel) -> str:
    """How the model's run split its data, as its record says ("unknown" for a model kept before the record)."""
    return model.split_spec.kind if model.split_spec is not None else "unknown"
