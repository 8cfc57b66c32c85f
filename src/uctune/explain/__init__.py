"""SHAP explanations for every model family, in the units of the original features.

Each family gets the explainer that suits it: SHAP's tree explainer for the forest and the boosted
trees, the linear explainer for logistic regression, and a model-agnostic permutation explainer on a
bounded background sample for the neural network. Explanations are computed on the pipeline's
transformed columns and summed back onto the original features (the one-hot columns of ``sector``
become ``sector``; a missing-value indicator joins its feature), which SHAP's additivity allows.

The explainers work in the model's own output (``raw_output``: log-odds for boosted trees and logistic
regression, probability for the forest and the network); ``values`` are in probability units for every
family, so that "raised the probability by 0.12" means the same thing everywhere. Log-odds
contributions are converted by sharing each row's probability change ``p - p_base`` in proportion to
them — exact in total, an approximation per feature.

uctune's tree pipelines are explained path-dependently (``method="tree"``): the reference is the
training rows as the trees recorded them (their node counts), no background is needed, and the
boosted pipelines' native category splits, which SHAP's interventional algorithm cannot handle, are
allowed. A plain tree classifier a user trained (``XGBClassifier``, ``LGBMClassifier``,
``RandomForestClassifier``, or another model SHAP's ``TreeExplainer`` reads) is explained directly on
its own columns: against ``background`` (the training rows) when one is given
(``method="tree_interventional"``), path-dependently when none is, or when its input has category
columns.

:func:`explain_all` explains every row of a large table (``uctune predict``), in batches. Trees and
the linear model get the exact values :func:`explain` gives. Any other model (the network, or any
pipeline ending in a ``predict_proba`` classifier) gets a bounded sampling estimate instead of SHAP's
permutation explainer, whose cost per row grows with the background (``method="sampled"``): each row
walks ``samples`` random orderings of the original features from a background row to the row itself,
swapping one feature (all its columns) in at a time, and a feature's value is its mean change in the
probability. Orderings come in antithetic pairs (one and its reverse) that share one of
``samples // 2`` fixed background rows, and are drawn with ``random_state``. A row costs exactly
``samples * (features - 1) + 1`` model evaluations (961 for the 31 features with the default 32),
however large the table or the background. The values add up exactly (``values.sum() + base ==
probability``, ``base`` being the mean probability of those background rows), and each is an unbiased
estimate of the row's Shapley value against them; its noise falls as ``1 / sqrt(samples)``. That is
the trade-off: on a small case with exact SHAP to compare (tests/test_explain.py) the estimate's top
reason was in exact SHAP's top three for 95-100 % of rows and the top-three sets shared 74-85 %;
features with nearly equal pushes may swap places. Trees and the linear model never approximate.
"""

from __future__ import annotations

from uctune.explain._explain import explain, explain_all
from uctune.explain._reasons import top_features, top_reasons
from uctune.explain._tree import has_members, unwrap_pipeline
from uctune.explain._types import DEFAULT_SAMPLES, Explanation, Reason

__all__ = [
    "DEFAULT_SAMPLES",
    "Explanation",
    "Reason",
    "explain",
    "explain_all",
    "has_members",
    "unwrap_pipeline",
    "top_features",
    "top_reasons",
]
