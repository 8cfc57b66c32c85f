"""A real headless Chromium opens the report with the network off and sees every plot."""

from __future__ import annotations

import re

import pytest

from tests.report.helpers import pixel_spread, render_in_chromium


@pytest.fixture(scope="module")
def rendered(reported_run):
    return render_in_chromium(reported_run.run_dir / "report" / "model_comparison.html", pdf=True)


def test_every_image_decodes(rendered):
    assert len(rendered.images) == 62  # as counted in test_run_report
    for image in rendered.images:
        assert image["ok"] == 1 and image["w"] > 100 and image["h"] > 100, image


def test_no_console_error_and_no_request_leaves_the_file(rendered):
    assert rendered.console_errors == []
    assert rendered.page_errors == []
    assert rendered.outside_requests == []
    assert rendered.title == "Upper-circuit classifiers: model comparison"


def test_the_screenshot_is_not_blank(rendered):
    spread, inked = pixel_spread(rendered.screenshot)
    assert spread > 0.05 and inked > 0.02, (spread, inked)


def test_it_prints(rendered):
    assert rendered.pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-z])", rendered.pdf))
    # The print style starts each model (seven) and the tuning section on a new page.
    assert pages >= 9, pages
