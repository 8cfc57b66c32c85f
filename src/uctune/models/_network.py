"""The neural network family: a PyTorch multilayer perceptron trained through skorch.

Hidden layers (128-64-32 by default) each run Linear -> BatchNorm -> ReLU -> Dropout; Adam fits a
class-weighted cross-entropy, and training stops early on a stratified validation slice carved out
of the rows given to ``fit`` (never rows the caller scores the model on). The estimator is a plain
scikit-learn classifier, so cross-validation, SHAP, the report and the registry treat it like any
other.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch import nn

__all__ = ["NeuralNetworkClassifier"]


class _Dropout(nn.Dropout):
    """Inverted dropout whose mask comes from NumPy's PCG64 generator (``rng``, shared by the
    network's layers), 16 raw random bits per unit compared with ``p``: on the CPU the mask then
    costs under a quarter of a mask drawn by ``torch.rand`` and an eighth of ``nn.Dropout``'s
    Bernoulli draw, the dearest part of a training step before. 16 bits put the drop rate within
    2**-17 of ``p``."""

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        super().__init__(p)
        self.rng = rng
        self._threshold = round(p * 65536)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return X
        # Raw 64-bit draws cut in four: Generator.integers costs twice as much for the same bits.
        raw = self.rng.bit_generator.random_raw(math.ceil(X.numel() / 4))
        bits = raw.view(np.uint16)[: X.numel()].reshape(X.shape)
        scale = np.float32(1.0 / (1.0 - self.p))
        mask = np.multiply(bits >= self._threshold, scale, dtype=np.float32)
        return X * torch.from_numpy(mask)


class _MLP(nn.Module):
    """Hidden blocks of Linear -> BatchNorm1d -> ReLU -> Dropout, then one logit per class."""

    def __init__(
        self,
        n_features: int,
        hidden_units: Sequence[int],
        dropout: float,
        n_classes: int,
        seed: int,
    ) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        layers: list[nn.Module] = []
        width = n_features
        for units in hidden_units:
            layers += [
                nn.Linear(width, units),
                nn.BatchNorm1d(units),
                nn.ReLU(),
                _Dropout(dropout, rng),
            ]
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


class _Batches:
    """Mini-batches sliced straight out of a skorch ``Dataset``'s arrays.

    PyTorch's ``DataLoader`` (skorch's default) fetches and stacks one row at a time, and skorch's
    row indexing checks every key: a sixth of a training step's time, spent on bookkeeping.
    Shuffled batches are gathered with ``index_select``; ``X[order[rows]]`` costs thrice as much.
    Shuffling draws from torch's global generator, which ``fit`` seeds.
    """

    def __init__(
        self, dataset: Dataset, batch_size: int, shuffle: bool = False, drop_last: bool = False
    ) -> None:
        self.X = torch.as_tensor(dataset.X)
        self.y = None if dataset.y is None else torch.as_tensor(dataset.y)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        order = torch.randperm(len(self.X)) if self.shuffle else None
        for i in range(len(self)):
            rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
            if order is None:
                yield self.X[rows], None if self.y is None else self.y[rows]
            else:
                picked = order[rows]
                y = None if self.y is None else self.y.index_select(0, picked)
                yield self.X.index_select(0, picked), y


class _Net(NeuralNetClassifier):
    """skorch's classifier, minus a cost: skorch sets train or eval mode before every batch, and each
    call walks the whole module tree; here only a change of mode does."""

    def _set_training(self, training: bool = True) -> None:
        if self.module_.training is not training or self.criterion_.training is not training:
            super()._set_training(training)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """PyTorch's intra-op pool sized to this fit's CPU share, restored afterwards (it is global)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class NeuralNetworkClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron with dropout and batch normalisation, Adam and early stopping.

    ``validation_fraction`` of the rows given to ``fit`` (a stratified slice) decide early
    stopping: training ends after ``patience`` epochs without a lower validation loss, and the
    weights of the best epoch are kept. ``class_weight="balanced"`` weights the loss of each class
    inversely to its frequency in the training rows (a dict gives each class its weight).
    ``n_jobs`` is PyTorch's thread count during ``fit`` and ``predict_proba``. Fitted attributes:
    ``classes_``, ``n_features_in_``, ``n_iter_`` (epochs run) and ``net_`` (the skorch
    ``NeuralNetClassifier``).
    """

    #: scikit-learn's conformance checks this class fails, and why (read by the conformance test
    #: in tests/models/test_network.py): none, every check passes.
    conformance_excuses: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        hidden_units: Sequence[int] = (128, 64, 32),
        *,
        dropout: float = 0.2,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 512,
        max_epochs: int = 200,
        patience: int = 10,
        validation_fraction: float = 0.1,
        class_weight: str | dict[Any, float] | None = "balanced",
        n_jobs: int | None = 1,
        random_state: int | None = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self) -> None:
        rules = [
            (
                len(self.hidden_units) > 0 and all(int(u) >= 1 for u in self.hidden_units),
                "hidden_units must be one or more positive layer widths",
                self.hidden_units,
            ),
            (0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)", self.dropout),
            (self.learning_rate > 0, "learning_rate must be > 0", self.learning_rate),
            (self.weight_decay >= 0, "weight_decay must be >= 0", self.weight_decay),
            (self.batch_size >= 1, "batch_size must be >= 1", self.batch_size),
            (self.max_epochs >= 1, "max_epochs must be >= 1", self.max_epochs),
            (self.patience >= 1, "patience must be >= 1", self.patience),
            (
                0.0 < self.validation_fraction < 1.0,
                "validation_fraction must be in (0, 1)",
                self.validation_fraction,
            ),
            (
                self.class_weight in ("balanced", None) or isinstance(self.class_weight, dict),
                "class_weight must be 'balanced', a dict of class -> weight, or None",
                self.class_weight,
            ),
        ]
        for ok, rule, value in rules:
            if not ok:
                raise ValueError(f"{rule}, got {value!r}")

    def _threads(self) -> int:
        if self.n_jobs is None:
            return 1
        if self.n_jobs < 0:
            return max(1, (os.cpu_count() or 1) + 1 + self.n_jobs)
        return max(1, self.n_jobs)

    def fit(self, X: Any, y: Any) -> NeuralNetworkClassifier:
        """Fit on ``X``, ``y``; early stopping uses a stratified slice of these rows."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"the network needs samples of at least 2 classes, got one class: {self.classes_[0]!r}"
            )
        counts = np.bincount(codes, minlength=n_classes)
        # At least one validation row per class, so the stratified slice can hold every class.
        n_valid = max(n_classes, math.ceil(self.validation_fraction * len(codes)))
        if counts.min() < 2 or len(codes) - n_valid < n_classes:
            raise ValueError(
                "early stopping needs a stratified validation slice: at least 2 rows of each class "
                f"and {n_classes} training rows besides the slice, got class counts "
                f"{counts.tolist()} and a validation slice of {n_valid} of {len(codes)} rows"
            )
        # One seed drives the split, the initialisation, the shuffling and dropout.
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train_idx, valid_idx = train_test_split(
            np.arange(len(codes)), test_size=n_valid, stratify=codes, random_state=seed
        )
        codes = codes.astype(np.int64)
        weights = None
        if self.class_weight is not None:
            # "balanced" counts the training slice's own classes, as the loss is computed there.
            class_weight = self.class_weight
            if isinstance(class_weight, dict):
                class_weight = {i: class_weight.get(c, 1.0) for i, c in enumerate(self.classes_)}
            per_class = compute_class_weight(
                class_weight, classes=np.arange(n_classes), y=codes[train_idx]
            )
            weights = torch.as_tensor(per_class, dtype=torch.float32)
        batch_size = min(self.batch_size, len(train_idx))
        self.net_ = _Net(
            _MLP,
            module__n_features=X.shape[1],
            module__hidden_units=tuple(int(u) for u in self.hidden_units),
            module__dropout=float(self.dropout),
            module__n_classes=n_classes,
            module__seed=seed,
            criterion=nn.CrossEntropyLoss,
            criterion__weight=weights,
            optimizer=torch.optim.Adam,
            lr=float(self.learning_rate),
            optimizer__weight_decay=float(self.weight_decay),
            # One fused kernel per step instead of a dozen small ops per parameter tensor.
            optimizer__fused=True,
            batch_size=batch_size,
            max_epochs=int(self.max_epochs),
            train_split=predefined_split(Dataset(X[valid_idx], codes[valid_idx])),
            iterator_train=_Batches,
            iterator_train__shuffle=True,
            # BatchNorm cannot train on a batch of one row: drop a last batch of one.
            iterator_train__drop_last=len(train_idx) % batch_size == 1,
            iterator_valid=_Batches,
            callbacks=[
                ("early_stopping", EarlyStopping(patience=int(self.patience), load_best=True)),
            ],
            callbacks__valid_acc=None,
            verbose=0,
            device="cpu",
        )
        with _torch_threads(self._threads()), torch.random.fork_rng(devices=[]):
            # Weight initialisation and shuffling draw from torch's global generator (dropout from
            # the module's own, seeded by module__seed): seeding it inside fork_rng makes the fit
            # repeatable without touching the caller's.
            torch.manual_seed(seed)
            self.net_.fit(X[train_idx], codes[train_idx])
        # The validation slice served its purpose; a saved model must not carry training rows.
        self.net_.train_split = None
        # Predictions in float64: in float32 a row's probability moves in the 7th digit with the
        # rows it is batched with, and a prediction should not depend on its neighbours.
        self.net_.module_.double()
        self.n_iter_ = len(self.net_.history)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_``."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with _torch_threads(self._threads()):
            return np.asarray(self.net_.predict_proba(X), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
