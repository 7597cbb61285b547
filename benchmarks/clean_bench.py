"""Benchmark ``toolkit.clean`` on the page-dump extraction dev set.

Runs :func:`toolkit.clean.clean_page` over ``../shared/extraction-dev/dumps/*.txt``
(furniture computed per page only: every dev page comes from a different site),
writes the bodies to a temporary folder, scores them with the benchmark's own
``score.py`` and prints F1/P/R plus mean and median milliseconds per page.

Usage: ``.venv/bin/python benchmarks/clean_bench.py [--per-page]``
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "extraction-dev"
sys.path.insert(0, str(ROOT))

from toolkit.clean import clean_page, furniture_lines  # noqa: E402


def main(argv: list[str]) -> int:
    if not (DEV / "score.py").exists():
        print(f"skipped: {DEV} not found (the dev set lives outside the repository)")
        return 0
    dumps = sorted((DEV / "dumps").glob("*.txt"))
    texts = {p.stem: p.read_text(encoding="utf-8") for p in dumps}
    clean_page("warm-up line\n\nA warm-up sentence that has a few words in it.")
    times = []
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as out:
        for stem, text in texts.items():
            t0 = time.perf_counter()
            page = clean_page(text, furniture=furniture_lines([text]))
            times.append((time.perf_counter() - t0) * 1000)
            (Path(out) / f"{stem}.txt").write_text(page.body, encoding="utf-8")
        cpu = (time.process_time() - cpu0) * 1000 / len(texts)
        cmd = [sys.executable, str(DEV / "score.py"), out, *(["--per-page"] if "--per-page" in argv else [])]
        print(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout, end="")
    print(f"pages={len(times)} time per page: mean {statistics.mean(times):.1f} ms, "
          f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms; CPU time {cpu:.1f} ms "
          f"(wall time inflates when other jobs share the cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
