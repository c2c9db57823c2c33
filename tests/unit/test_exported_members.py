"""``__all__`` of each public package lists exactly its public names (httpx's test is the model).

Public: every attribute not starting with ``_`` that is not a submodule (nor the
``annotations`` feature of ``from __future__ import annotations``), plus ``__version__``.
Every name in ``__all__`` exists (lazily loaded names included: they are touched first), and
none is listed twice.
"""

from __future__ import annotations
import __future__

import importlib
import types

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
