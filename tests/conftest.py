"""Shared fixtures of the test suite.

* ``mirror`` -- the local data mirror (``../shared/data`` beside the checkout);
  tests that need real data skip when it is absent.
* torch uses 2 threads (the CI machine has 2 cores; override with
  ``CCL_TEST_THREADS``) and progress bars are off.
* OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless set):
  on a machine shared with other processes, spinning OpenMP threads made
  small convolutions up to 8x slower in our measurements.  This only takes
  effect because it is set before torch is first imported.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("CCL_PROGRESS", "0")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("CCL_TEST_THREADS", "2")))

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def mirror() -> Path:
    """Path of the data mirror (``<checkout>/../shared/data``); skips the test when it is absent."""
    if not MIRROR.is_dir():
        pytest.skip(f"data mirror {MIRROR} not found")
    return MIRROR
