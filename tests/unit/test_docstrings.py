"""Every public name of the package, the downloader's included, has a docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest

import ninepic_async

_ALL = ["ninepic_async", *(m.name for m in pkgutil.walk_packages(ninepic_async.__path__, "ninepic_async."))]
MODULES = _ALL


def _undocumented(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    missing = [] if module.__doc__ else [module_name]
    for name in getattr(module, "__all__", []):
        obj: Any = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or obj.__module__ != module_name:
            continue
        if not obj.__doc__:  # a class's own docstring: msgspec.Struct's would not count
            missing.append(f"{module_name}.{name}")
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            func = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if inspect.isfunction(func) and not inspect.getdoc(getattr(obj, attr, func)) and not func.__doc__:
                missing.append(f"{module_name}.{name}.{attr}")
    return missing


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_docstrings(module_name: str) -> None:
    assert _undocumented(module_name) == []


def test_models_with_numbers_say_their_units() -> None:
    from ninepic_async import models

    assert "pixels" in (models.ImageItem.__doc__ or "")
    assert "seconds" in (models.VideoClip.__doc__ or "")
    assert "0-23" in (models.TimelineHour.__doc__ or "")
    assert "0-100" in (models.FaceSearchResult.__doc__ or "")
