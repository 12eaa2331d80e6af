"""An optimizer's rule run on parts of a large parameter, one part per thread.

NumPy runs each elementwise operation on one core.  An elementwise rule (``ELEMENTWISE =
True``: every update rule of torch.optim's classic family, Adam's and SGD's included) treats
each element on its own, so the parameter, its gradient and its state arrays can be cut into
contiguous parts (flat views) and the rule run on each part in its own thread.  Each element
sees the same operations as in one whole-array call, so the result is bitwise the same
(tests/test_perf_parity.py).  Each part gets a copy of the state's numbers (the step count,
Nadam's mu_product), which every part advances alike; the first part's are kept.

``split_updates(optimizer)`` wraps the optimizer's rule this way (the wrapper is an instance
attribute, so ``step()`` calls it in place of the class's ``update``, which it calls in turn);
``plain_updates(optimizer)`` removes the wrapper.  Parameters with fewer than
``PARALLEL_MIN_SIZE`` elements, non-contiguous arrays, state that is not shaped like the
parameter (Adafactor's factored moments) and arrays on the GPU are updated whole.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.perf import threads

#: parameters with at least this many elements are updated in parts, one per thread ...
PARALLEL_MIN_SIZE = 1 << 16
#: ... of at least this many elements (smaller parts would wait on each other for the GIL)
PART_MIN_SIZE = 1 << 15


def split_updates(optimizer) -> None:
    """Run ``optimizer``'s rule in parts on large parameters (no-op for a non-elementwise rule)."""
    if not getattr(type(optimizer), "ELEMENTWISE", False) or "update" in vars(optimizer):
        return
    rule = optimizer.update

    def update_in_parts(w, g, state, group):
        arrays = {k: v for k, v in state.items() if B.is_array(v)}
        n = w.size
        if (n < PARALLEL_MIN_SIZE or threads.num_threads() == 1 or B.get_array_module(w) is not B.np
                or not (w.flags.c_contiguous and g.flags.c_contiguous)
                or any(v.shape != w.shape or not v.flags.c_contiguous for v in arrays.values())):
            rule(w, g, state, group)
            return
        flat_w, flat_g = w.reshape(-1), g.reshape(-1)
        flat = {k: v.reshape(-1) for k, v in arrays.items()}

        def part(bounds):
            lo, hi = bounds
            sub = {**state, **{k: v[lo:hi] for k, v in flat.items()}}
            rule(flat_w[lo:hi], flat_g[lo:hi], sub, group)
            return sub

        parts = threads.parallel_map(part, threads.split_range(n, min(threads.num_threads(), n // PART_MIN_SIZE)))
        state.update({k: v for k, v in parts[0].items() if k not in arrays})

    update_in_parts.__wrapped__ = rule
    optimizer.update = update_in_parts


def plain_updates(optimizer) -> None:
    """Remove the wrapper of :func:`split_updates` (the class's rule runs whole again)."""
    vars(optimizer).pop("update", None)


def is_split(optimizer) -> bool:
    return "update" in vars(optimizer)
