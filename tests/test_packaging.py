"""The project's promises about installation: pinned torch, conda mirror in sync, derived files ignored."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from sync_environment import render  # noqa: E402


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert "torch==2.13.0" in pyproject()["project"]["dependencies"]


def test_environment_yml_mirrors_pyproject():
    assert (ROOT / "environment.yml").read_text(encoding="utf-8") == render(pyproject())


def test_derived_files_are_ignored_by_git():
    for path in (".venv/x", "data/processed/articles.parquet", "exports/index.html"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert result.returncode == 0, f"{path} is not ignored"


def test_bundled_corpus_matches_shared_original():
    shared = ROOT.parent / "shared" / "corpus"
    if not shared.is_dir():
        import pytest

        pytest.skip("../shared/corpus not present")
    for original in sorted(shared.glob("*.txt")):
        assert (ROOT / "data" / "raw" / original.name).read_bytes() == original.read_bytes()
