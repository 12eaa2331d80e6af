#!/usr/bin/env bash
# The GPU half of docs/performance.md in one run, for a machine with an NVIDIA GPU, CuPy and
# (for the comparison) PyTorch with CUDA: the device tool's machine has all three.
#   bash benchmarks/gpu_check.sh            # results in benchmarks/results/gpu/ (or $OUT)
# 1. the test suite, whose backend-parametrised tests then run on CuPy too (among them
#    tests/test_perf_parity.py::test_training_step_makes_no_host_device_copies);
# 2. one training step layer by layer on the GPU (benchmarks/layers.py --backend cupy);
# 3. one epoch, minidl on CuPy against PyTorch CUDA eager, alternating (benchmarks/epoch.py
#    --backend cupy; random images: the MNIST files do not travel to that machine).
# Takes about 5 minutes.  Every step runs even if one before it fails; the exit status is
# that of the first failure.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/results/gpu}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg
py="${PYTHON:-python3}"
status=0
step() { "$@" || { rc=$?; [ "$status" -eq 0 ] && status=$rc; echo "FAILED ($rc): $*"; }; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
"$py" -c "import cupy, numpy, sys; print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__)" 2>&1 | tee -a "$out/gpu.txt"
step "$py" -m pytest -q -p no:cacheprovider -rfE tests > "$out/pytest.txt" 2>&1
tail -25 "$out/pytest.txt"
step "$py" benchmarks/layers.py --backend cupy --steps 100 --json "$out/layers_cupy.json"
step "$py" benchmarks/epoch.py --backend cupy --data random --repeats 3 --json "$out/epoch_cupy.json"
exit "$status"
