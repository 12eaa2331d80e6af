"""An optimizer's rule run on parts of a large parameter: one part per thread, each part in
cache-sized blocks.

NumPy runs each elementwise operation on one core, over the whole array, and a rule written
to be read (``m *= beta1; m += (1 - beta1) * g; ...``) makes a new temporary array for most
of its lines.  An elementwise rule (``ELEMENTWISE = True``: every update rule of torch.optim's
classic family, Adam's and SGD's included) treats each element on its own, so the parameter,
its gradient and its state arrays can be cut into contiguous pieces (flat views) and the rule
run on each piece.  Two cuts:

* **parts**, one per thread (``threads.num_threads()``), run at the same time;
* with one thread, **blocks** of at most ``BLOCK_SIZE`` elements, run one after the other.
  A block's arrays and the rule's temporaries (256 KiB each in float32) stay in the core's
  L2 cache from one line of the rule to the next, and the C library's allocator hands the
  same memory back block after block.  Whole, each temporary of a million-element parameter
  is megabytes that glibc can map and unmap on every line of the rule.  The measurements
  (one thread and two, on the MLP and the CNN of ``minidl problems``) are in
  docs/performance.md, section 12; with two threads the parts are not cut further.

Each element sees the same operations as in one whole-array call, so the result is bitwise
the same (tests/test_perf_parity.py).  Each piece gets a copy of the state's numbers (the step
count, Nadam's mu_product), which every piece advances alike; the first piece's are kept.

``split_updates(optimizer)`` wraps the optimizer's rule this way (the wrapper is an instance
attribute, so ``step()`` calls it in place of the class's ``update``, which it calls in turn);
``plain_updates(optimizer)`` removes the wrapper.  Parameters with fewer than
``PARALLEL_MIN_SIZE`` elements, non-contiguous arrays, state that is not shaped like the
parameter (Adafactor's factored moments) and arrays on the GPU are updated whole.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.perf import threads

#: parameters with at least this many elements are updated in pieces ...
PARALLEL_MIN_SIZE = 1 << 16
#: ... in parts, one per thread, of at least this many elements (smaller parts would wait
#: on each other for the GIL) ...
PART_MIN_SIZE = 1 << 15
#: ... and, with one thread, in blocks of at most this many elements, one after the other
BLOCK_SIZE = 1 << 16


def split_updates(optimizer) -> None:
    """Run ``optimizer``'s rule in pieces on large parameters (no-op for a non-elementwise rule)."""
    if not getattr(type(optimizer), "ELEMENTWISE", False) or "update" in vars(optimizer):
        return
    rule = optimizer.update

    def update_in_parts(w, g, state, group):
        arrays = {k: v for k, v in state.items() if B.is_array(v)}
        n = w.size
        if (n < PARALLEL_MIN_SIZE or B.get_array_module(w) is not B.np
                or not (w.flags.c_contiguous and g.flags.c_contiguous)
                or any(v.shape != w.shape or not v.flags.c_contiguous for v in arrays.values())):
            rule(w, g, state, group)
            return
        flat_w, flat_g = w.reshape(-1), g.reshape(-1)
        flat = {k: v.reshape(-1) for k, v in arrays.items()}

        ranges = threads.split_range(n, min(threads.num_threads(), n // PART_MIN_SIZE))
        block = BLOCK_SIZE if len(ranges) == 1 else n

        def part(bounds):
            lo, hi = bounds
            first = None
            for start in range(lo, hi, block):
                stop = min(start + block, hi)
                sub = {**state, **{k: v[start:stop] for k, v in flat.items()}}
                rule(flat_w[start:stop], flat_g[start:stop], sub, group)
                first = sub if first is None else first
            return first

        parts = threads.parallel_map(part, ranges)
        state.update({k: v for k, v in parts[0].items() if k not in arrays})

    update_in_parts.__wrapped__ = rule
    optimizer.update = update_in_parts


def plain_updates(optimizer) -> None:
    """Remove the wrapper of :func:`split_updates` (the class's rule runs whole again)."""
    vars(optimizer).pop("update", None)


def is_split(optimizer) -> bool:
    return "update" in vars(optimizer)
