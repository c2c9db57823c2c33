"""A local 9Pic simulator: the external API and an S3-like object store, deterministic from a seed.

```python
from ninepic_async.testing import Simulator, SimulatorConfig
async with Simulator(SimulatorConfig(photo_count=200, seed=1)) as sim:
    client = NinePicClient(sim.api_key, org_id=sim.org_id, base_url=sim.base_url)

async with simulated_api(photo_count=20) as base_url:    # just the URL; key/org/event from the config
    ...
```
"""

from .config import FEATURE_FLAGS, SimulatorConfig
from .faults import API_ENDPOINTS, Counters, Faults
from .server import Simulator, simulated_api
from .standalone import build_arg_parser, config_from_args, run_standalone, serve_forever
from .world import HOSTILE_FILENAMES, FaceResult, Photo, World

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
