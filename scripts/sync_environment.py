"""Write environment.yml from pyproject.toml so the conda recipe mirrors the pip one exactly.

Run after changing dependencies: ``.venv/bin/python scripts/sync_environment.py``.
``tests/test_packaging.py`` fails when the two drift apart.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(pyproject: dict) -> str:
    """The environment.yml text for a parsed pyproject: conda Python + pip, then every pip requirement."""
    project = pyproject["project"]
    deps = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    python = project["requires-python"].removeprefix(">=")
    lines = [
        "# Generated from pyproject.toml by scripts/sync_environment.py; do not edit by hand.",
        "# conda env create -f environment.yml && conda activate newsangle && pip install -e . --no-deps",
        "name: newsangle",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
        *[f'      - "{d}"' for d in deps],
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = render(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")))
    (ROOT / "environment.yml").write_text(text, encoding="utf-8")
    print("environment.yml written")
