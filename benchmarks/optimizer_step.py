"""Cost of one optimizer step of each registered minidl optimizer on the CNN's 1.39 M parameters.

    python benchmarks/optimizer_step.py [--rounds 20] [--steps 10] [--convention keras] [--json PATH]

Every optimizer gets the parameters of models.mnist_cnn (1,387,594 float32 values in
6 arrays) with fixed random gradients, and is created with its defaults for
``--convention`` (or with its own default convention where it has no such
convention, e.g. Rprop, named in the table).  The optimizers run round-robin (each round times ``--steps`` calls of
``step()`` of every optimizer in turn, on its own copy of the parameters), so machine
noise hits them alike; the table gives the median and min-max over rounds of the mean
time per step.  "check" is the part of ``step()`` spent in its finiteness check
(``Optimizer.check_gradients``), timed alone on the same gradients.  GB/s counts the
bytes a fused kernel would have to move at the least: read w and g and each state
array, write w and each state array, once.  When torch is importable, torch.optim.Adam
(its default implementation on the CPU) on the same parameter shapes is timed as a
reference row.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

from minidl import backend as B  # noqa: E402
from minidl import perf  # noqa: E402
from minidl.perf import threads  # noqa: E402
from minidl import models, optim  # noqa: E402

np = C.np


def make_params(seed=0):
    """The CNN's parameters, each with a fixed random gradient."""
    model = models.mnist_cnn(seed=seed)
    rng = np.random.default_rng(seed + 1)
    params = model.parameters()
    for p in params:
        p.grad = B.asarray(rng.standard_normal(p.shape).astype(B.np.float32) * 1e-2)
    return params


def state_arrays(opt):
    """How many parameter-sized arrays the optimizer keeps per parameter (after one step)."""
    counts = []
    for st in opt.state.values():
        counts.append(sum(1 for v in st.values() if B.is_array(v) and v.size > 1))
    return max(counts) if counts else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10, help="steps per optimizer per round")
    parser.add_argument("--convention", default="keras", help="the optimizers' convention (keras, pytorch, paper)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads and minidl.threads.set_num_threads")
    parser.add_argument("--no-perf", action="store_true",
                        help="the plain rule, run whole (by default each elementwise rule runs in parts over "
                             "--threads threads, perf.split_updates, as fit trains)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    threads.set_num_threads(args.threads)

    names = optim.available()
    opts = {}
    for name in names:
        params = make_params()
        try:
            opts[name] = optim.create(name, params, convention=args.convention)
        except (TypeError, ValueError):   # an optimizer without this convention: its default one
            opts[name] = optim.create(name, params)
        if not args.no_perf:
            perf.split_updates(opts[name])
    n_params = sum(p.size for p in make_params())
    torch = None if args.no_torch else C.torch_or_none()
    torch_opt = None
    if torch is not None:
        torch.set_num_threads(args.threads)
        g = torch.Generator().manual_seed(0)
        tparams = []
        for p in make_params():
            t = torch.nn.Parameter(torch.zeros(tuple(p.shape)))
            t.grad = torch.randn(tuple(p.shape), generator=g) * 1e-2
            tparams.append(t)
        torch_opt = torch.optim.Adam(tparams, lr=1e-3, eps=1e-7)

    runners = dict((name, opt.step) for name, opt in opts.items())
    if torch_opt is not None:
        runners["torch.optim.Adam (reference)"] = torch_opt.step
    for step in runners.values():   # first step: state allocation
        step()
    times = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, step in runners.items():
            B.synchronize()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            B.synchronize()
            times[name].append((time.perf_counter() - start) / args.steps)

    checks = {}
    for name, opt in opts.items():
        ts = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            opt.check_gradients()
            B.synchronize()
            ts.append(time.perf_counter() - start)
        checks[name] = statistics.median(ts)

    rows, out = [], []
    for name, ts in times.items():
        med = statistics.median(ts)
        n_state = state_arrays(opts[name]) if name in opts else 2
        traffic = n_params * 4 * (2 + 1 + 2 * n_state)   # read w, g, state; write w, state
        check = checks.get(name)
        label = name if name not in opts or opts[name].convention == args.convention \
            else f"{name} ({opts[name].convention})"
        kind = "" if name not in opts else ("elementwise" if type(opts[name]).ELEMENTWISE else "whole tensors")
        rows.append([label, kind, n_state, C.ms(med), f"{min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f}",
                     "" if check is None else C.ms(check), f"{traffic / med / 1e9:.1f}"])
        out.append({"optimizer": name, "rule": kind, "state_arrays": n_state, "median_ms": med * 1e3, "min_ms": min(ts) * 1e3,
                    "max_ms": max(ts) * 1e3, "check_finite_ms": None if check is None else check * 1e3,
                    "min_traffic_gb_per_s": traffic / med / 1e9})
    print(f"optimizer.step() on the CNN's {n_params:,} float32 parameters ({args.convention} convention), "
          f"{B.device_name()}, median over {args.rounds} rounds of {args.steps} steps:")
    C.print_table(["optimizer", "rule", "state arrays", "ms per step", "min-max", "of which check", "GB/s (min traffic)"], rows)
    C.write_json(args.json, {"benchmark": "optimizer_step", "parameters": n_params, "convention": args.convention,
                             "perf": not args.no_perf, "threads": args.threads,
                             "rounds": args.rounds, "steps": args.steps, "machine": C.machine_info(), "rows": out})


if __name__ == "__main__":
    main()
