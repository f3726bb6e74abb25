import numpy as np
import pytest
import torch

from lib.reproducibility import torch_threads

torch.set_num_threads(2)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)



@pytest.fixture(scope="module")
def one_torch_thread():
    """Small models run faster on one thread on a shared two-core machine (no oversubscription).
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    with torch_threads(1):
        yield
