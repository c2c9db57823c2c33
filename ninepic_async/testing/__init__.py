"""A local 9Pic simulator: the external API and an S3-like object store, deterministic from a seed.

```python
from ninepic_async.testing import Simulator, SimulatorConfig
async with Simulator(SimulatorConfig(photo_count=200, seed=1)) as sim:
    client = NinePicClient(sim.api_key, org_id=sim.org_id, base_url=sim.base_url)

async with simulated_api(photo_count=20) as base_url:    # just the URL; key/org/event from the config
    ...
```
"""

from __future__ import annotations

import importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .config import FEATURE_FLAGS, SimulatorConfig
    from .faults import API_ENDPOINTS, Counters, Faults
    from .server import Simulator, simulated_api
    from .standalone import build_arg_parser, config_from_args, run_standalone, serve_forever
    from .world import HOSTILE_FILENAMES, FaceResult, Photo, World

# Names are loaded on first use, so `ninepic` commands that only need the simulator's option
# parser do not import aiohttp.web and the whole server at start-up.
_HOMES = {
    "FEATURE_FLAGS": "config", "SimulatorConfig": "config",
    "API_ENDPOINTS": "faults", "Counters": "faults", "Faults": "faults",
    "Simulator": "server", "simulated_api": "server",
    "build_arg_parser": "standalone", "config_from_args": "standalone",
    "run_standalone": "standalone", "serve_forever": "standalone",
    "HOSTILE_FILENAMES": "world", "FaceResult": "world", "Photo": "world", "World": "world",
}  # fmt: skip


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "API_ENDPOINTS",
    "FEATURE_FLAGS",
    "HOSTILE_FILENAMES",
    "Counters",
    "FaceResult",
    "Faults",
    "Photo",
    "Simulator",
    "SimulatorConfig",
    "World",
    "build_arg_parser",
    "config_from_args",
    "run_standalone",
    "serve_forever",
    "simulated_api",
]
