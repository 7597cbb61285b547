"""Open exported chart pages in headless Chromium with the network blocked; save screenshots.

Usage: ``python scripts/check_offline_html.py exports/*.html [--out DIR]``

A developer check (not a test dependency): it needs Debian's ``chromium``. Every request
that leaves the machine goes to a dead proxy (127.0.0.1:9), so a page that needed a CDN
would render blank. For each page it prints the screenshot path (look at it) and whether
vega-embed drew the chart: the rendered DOM must hold Vega's ``marks`` canvas or SVG.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--hide-scrollbars",
    "--window-size=1100,900", "--virtual-time-budget=5000",
]


def rendered(page: Path, browser: str) -> bool:
    """True when the page, loaded offline, contains the chart Vega drew (its ``marks`` element)."""
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
            check=True, capture_output=True, text=True, timeout=120,
        ).stdout
    return 'class="marks"' in dom


def screenshot(page: Path, out: Path, browser: str) -> Path:
    target = out / f"{page.stem}.screenshot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "newsangle-screenshots")
    args = parser.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    blank = 0
    for page in args.pages:
        shot = screenshot(page, args.out, browser)
        if page.name == "index.html":
            print(f"{page}: index page (images, no chart to draw); screenshot {shot}")
            continue
        ok = rendered(page, browser)
        blank += not ok
        print(f"{page}: {'chart drawn' if ok else 'NOTHING DRAWN'} offline; screenshot {shot}")
    return 1 if blank else 0


if __name__ == "__main__":
    raise SystemExit(main())
