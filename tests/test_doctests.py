"""The examples in the package's docstrings are run, so they stay true."""

import doctest
import importlib
import pkgutil

import pytest

import toolkit

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(toolkit.__path__, "toolkit.")
                 if not name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
