"""``__all__`` of each public package lists exactly its public names (httpx's test is the model).

Public: every attribute not starting with ``_`` that is not a submodule (nor the
``annotations`` feature of ``from __future__ import annotations``), plus ``__version__``.
Every name in ``__all__`` exists (lazily loaded names included: they are touched first), and
none is listed twice.
"""

from __future__ import annotations
import __future__

import importlib
import re
import types
from pathlib import Path

import pytest

METADATA = {"__version__"}  # private by name, exported on purpose (httpx does the same)
PACKAGES = [
    "ninepic_async",
    "ninepic_async.download",
    "ninepic_async.testing",
]


def public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name in METADATA)
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_the_public_names(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), "a name is listed twice"
    assert [name for name in exported if not hasattr(module, name)] == []
    assert sorted(public_names(module) - set(exported)) == []  # public but not exported
    # Exported but private or a submodule (names loaded on first use count once resolved):
    resolved = {name: getattr(module, name) for name in exported}
    assert [
        name
        for name, value in resolved.items()
        if (name.startswith("_") and name not in METADATA) or isinstance(value, types.ModuleType)
    ] == []


_README = Path(__file__).resolve().parents[2] / "README.md"
_LIBRARY_MODULES = ("ninepic_async.download", "ninepic_async.models", "ninepic_async._exceptions")


def test_every_library_name_the_readme_mentions_imports_from_ninepic_async() -> None:
    """The README says everything a caller needs is exported from ``ninepic_async``: every
    backticked name of the downloader, the models or the exceptions it mentions must be."""
    # The code-layout table (rows naming a `module.py`) describes internals, not the public surface.
    text = "\n".join(
        line for line in _README.read_text().splitlines() if not re.search(r"`[\w/]+\.py`", line)
    )
    mentioned = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\(|`)", text))
    for imported in re.findall(r"^from ninepic_async[\w.]* import (.+)$", text, re.MULTILINE):
        mentioned |= {name.strip() for name in imported.split(",")}
    library: set[str] = set()
    for name in _LIBRARY_MODULES:
        module = importlib.import_module(name)
        library |= set(getattr(module, "__all__", ())) & mentioned
    assert library, "the README mentions none of the library's names: the pattern is broken"
    package = importlib.import_module("ninepic_async")
    assert sorted(n for n in library if n not in package.__all__ or not hasattr(package, n)) == []
    assert {"DownloadReport", "FileResult", "FileFinished", "PlannedEvent"} <= library
