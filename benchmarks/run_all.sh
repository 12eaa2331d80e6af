#!/usr/bin/env bash
# Run every benchmark of docs/performance.md in turn; JSON results go to benchmarks/results/threadsN/.
#   benchmarks/run_all.sh          # 2 threads: NumPy's OpenBLAS default here, torch.set_num_threads(2)
#   THREADS=1 benchmarks/run_all.sh   # OPENBLAS_NUM_THREADS=1, MINIDL_NUM_THREADS=1, torch.set_num_threads(1)
# Takes about 7 minutes on 2 quiet cores.  Compare `uptime` before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${THREADS:-2}"
if [ "$threads" = 1 ]; then export OPENBLAS_NUM_THREADS=1; fi
export MINIDL_NUM_THREADS="$threads"
out="benchmarks/results/threads$threads"
fig="docs/figures/perf_cost_curves_threads$threads.png"
mkdir -p "$out" docs/figures
uptime
python benchmarks/gemm.py --json "$out/gemm.json"
python benchmarks/layers.py --json "$out/layers.json"
python benchmarks/layers.py --unfused --json "$out/layers_unfused.json"
python benchmarks/ablation.py --json "$out/ablation.json"
python benchmarks/optimizer_step.py --threads "$threads" --json "$out/optimizer_step.json"
python benchmarks/epoch.py --data mnist --repeats 3 --threads "$threads" --json "$out/epoch.json"
python benchmarks/cost_curves.py --threads "$threads" --figure "$fig" --json "$out/cost_curves.json"
python benchmarks/memory.py --json "$out/memory.json"
python benchmarks/denormals.py --json "$out/denormals.json"
uptime
