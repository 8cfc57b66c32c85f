"""Real data: uctune's tables built from NSE's exchange files (bhavcopy, ``sec_list`` bands and a
results calendar). See ``data/NSE.md`` for every column, the label rule and what is approximate."""

from __future__ import annotations

from uctune.data.nse._build import HOLDOUT_START, BuildSummary, build, card_path, sample_daily
from uctune.data.nse._daily import FEATURES

__all__ = ["FEATURES", "HOLDOUT_START", "BuildSummary", "build", "card_path", "sample_daily"]
