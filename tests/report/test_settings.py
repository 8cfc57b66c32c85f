"""Report settings agree with the run config they are built from."""

from __future__ import annotations

from typing import get_args

import pytest

from uctune.config import ReportConfig
from uctune.errors import ConfigError
from uctune.report import RANK_METRICS, ReportSettings


def test_rank_metrics_are_the_configs():
    assert get_args(ReportConfig.model_fields["rank_by"].annotation) == RANK_METRICS


@pytest.mark.parametrize("bootstrap", [1, 19])
def test_too_few_bootstrap_resamples_are_refused(bootstrap):
    with pytest.raises(ConfigError, match=f"0 \\(no intervals\\) or at least 20, got {bootstrap}"):
        ReportSettings(bootstrap=bootstrap)


@pytest.mark.parametrize("bootstrap", [0, 20])
def test_no_bootstrap_or_enough_resamples_are_accepted(bootstrap):
    assert ReportSettings(bootstrap=bootstrap).bootstrap == bootstrap
