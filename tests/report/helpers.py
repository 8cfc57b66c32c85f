"""Reading a report back: its data-* cells, its URLs, and what a real Chromium makes of it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=127.0.0.1:9",  # a closed port: anything that tried the network would fail
]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.urls: list[tuple[str, str, str]] = []
        self.imgs: list[dict[str, str]] = []
        self.best_rows: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("src", "href", "action", "srcset", "poster", "data"):
            if key in a:
                self.urls.append((tag, key, a[key]))
        if tag == "img":
            self.imgs.append(a)
        if "data-metric" in a and "data-model" in a:
            self.cells.append(a)
        if tag == "tr" and "best-row" in a.get("class", ""):
            self.best_rows.append(a.get("data-model", ""))


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def cell_values(html: str) -> dict[tuple[str, str], list[str]]:
    """``(model, metric) -> [data-value, ...]`` for every numeric cell in the page."""
    out: dict[tuple[str, str], list[str]] = {}
    for cell in parse(html).cells:
        out.setdefault((cell["data-model"], cell["data-metric"]), []).append(
            cell.get("data-value", "")
        )
    return out


@dataclass
class Rendered:
    images: list[dict[str, float]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    pdf: bytes = b""
    title: str = ""


def render_in_chromium(path: Path, *, pdf: bool = False) -> Rendered:
    """Load ``path`` in headless Chromium with the network off; collect what a user would notice."""
    from playwright.sync_api import sync_playwright

    out = Rendered()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1366, "height": 900})

            def block(route, request):  # type: ignore[no-untyped-def]
                if request.url.startswith(("file:", "data:")):
                    route.continue_()
                else:
                    out.outside_requests.append(request.url)
                    route.abort()

            context.route("**/*", block)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and out.console_errors.append(m.text))
            page.on("pageerror", lambda e: out.page_errors.append(str(e)))
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(("file:", "data:"))
                    else out.outside_requests.append(r.url)
                ),
            )
            page.goto(path.resolve().as_uri(), wait_until="load")
            out.images = page.evaluate(
                """() => Promise.all(Array.from(document.images).map(img =>
                    img.decode().then(
                        () => ({w: img.naturalWidth, h: img.naturalHeight, ok: 1}),
                        () => ({w: img.naturalWidth, h: img.naturalHeight, ok: 0}))))"""
            )
            out.title = page.title()
            out.screenshot = page.screenshot()
            if pdf:
                out.pdf = page.pdf(format="A4")
        finally:
            browser.close()
    return out


def pixel_spread(png: bytes) -> tuple[float, float]:
    """(standard deviation of grey levels in 0-1, share of pixels that are not near-white)."""
    from matplotlib.image import imread

    image = imread(io.BytesIO(png), format="png")
    grey = np.asarray(image)[..., :3].mean(axis=-1)
    return float(grey.std()), float((grey < 0.9).mean())
