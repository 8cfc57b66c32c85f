"""Rendering: names are escaped, ids unique, bad input refused before anything is drawn."""

from __future__ import annotations

import re

import numpy as np
import pytest

from uctune.errors import ConfigError, DataError
from uctune.report import ModelInput, ReportSettings, assess_models, build_report

SETTINGS = ReportSettings(bootstrap=0)


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(2)
    y = (rng.random(200) < 0.15).astype(int)
    return y, np.clip(0.4 * y + 0.6 * rng.random(200), 0, 1)


def test_names_are_escaped_and_ids_unique(scores):
    y, proba = scores
    models = [
        ModelInput("A <b>", proba, 0.4),
        ModelInput("a-b", np.sqrt(proba), 0.6, display_name="Other & co"),
    ]
    report = build_report(assess_models(models, y, settings=SETTINGS), settings=SETTINGS)
    html = report.html
    assert "A &lt;b&gt;" in html and "<b>" not in html and "Other &amp; co" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert all(f'href="#{i}"' in html for i in ids if i.startswith("model-"))
    assert html.count("SHAP not computed: no model or no feature rows were given") == 2
    assert list(report.results["models"]) == ["A <b>", "a-b"]
    assert report.results["models"]["a-b"]["display_name"] == "Other & co"


def test_bad_input_is_refused(scores):
    y, proba = scores
    with pytest.raises(ConfigError, match="a report needs at least one model, got none"):
        build_report([])
    with pytest.raises(ConfigError, match="model names must be unique, got m twice"):
        assess_models([ModelInput("m", proba, 0.5), ModelInput("m", proba, 0.5)], y)
    with pytest.raises(DataError, match="labels and probabilities differ in length: 200 and 20"):
        assess_models([ModelInput("m", proba[:20], 0.5)], y, settings=SETTINGS)
