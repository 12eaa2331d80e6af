"""Peak resident memory of a training run of the article's CNN stays under 400 MB.

benchmarks/memory.py runs, in a fresh process, the 60,000 training and 10,000 test
images loaded (real MNIST when present, else random uint8 images of the same size:
memory does not depend on the pixel values), the CNN, Adam, 150 steps of batch 64 with
fit and an evaluation on the test set; its peak RSS must be <= 400 MB.  Every buffer
has the same size at every step, so the peak of a full epoch is the same (a full run:
``python benchmarks/memory.py``, see docs/performance.md).
"""
import importlib.util
from pathlib import Path

import pytest

LIMIT_MB = 400
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "memory.py"


def _memory_module():
    spec = importlib.util.spec_from_file_location("minidl_benchmark_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_training_run_peak_rss_under_limit():
    mem = _memory_module()
    data = "mnist" if mem.mnist_folder() else "random"
    result = mem.run(steps=150, data=data, timeout=600)
    assert result["steps"] == 150
    assert result["peak_rss_mb"] <= LIMIT_MB, result
