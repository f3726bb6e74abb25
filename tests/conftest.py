from lib._book import numerics

# nbval starts a kernel per executed page after this file is imported: pin the numerics the pages
# were executed with (lib._book.numerics; BOOK_CPU_CAPABILITY=default re-executes them as "another machine")
numerics.apply()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lib.reproducibility import torch_threads  # noqa: E402

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
