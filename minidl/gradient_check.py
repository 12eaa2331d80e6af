"""Finite-difference gradient checking.

``gradcheck(fn, inputs)`` compares the gradients that ``backward()`` computes
with central differences

    d f / d x_i  ~=  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

in float64.  ``fn`` maps Tensors to a Tensor; a non-scalar output is reduced
to the scalar ``sum(out * r)`` with a fixed random ``r``, so every output
element is checked.  Inputs are converted to float64 copies; the ones to
check are the floating-point ones (or those listed in ``check``).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical gradients differ."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, check=None, seed=0) -> bool:
    """Return True if analytic and numerical gradients agree, else raise GradcheckError.

    ``inputs`` is a list of arrays or Tensors; integer ones are passed through
    unchanged (labels).  ``check`` is an optional list of input indices to check.
    """
    np = B.np
    xp = B.xp()
    with B.default_dtype("float64"):
        tensors = []
        for i, x in enumerate(inputs):
            data = x.data if isinstance(x, Tensor) else xp.asarray(x)
            is_float = data.dtype.kind == "f"
            wanted = is_float if check is None else (i in check)
            if isinstance(x, Tensor) and data.dtype == np.float64:
                # used as is (a layer's Parameter, say), so fn may reach it by reference
                x.requires_grad, x.grad = wanted or x.requires_grad, None
                tensors.append(x)
            else:
                tensors.append(Tensor(data.astype(np.float64) if is_float else data, requires_grad=wanted))

        out = fn(*tensors)
        r = xp.asarray(np.random.default_rng(seed).standard_normal(out.shape))

        def scalar(o):
            return float((o.data * r).sum())

        (out * Tensor(r)).sum().backward()
        for idx, t in enumerate(tensors):
            if not t.requires_grad:
                continue
            analytic = B.to_numpy(t.grad) if t.grad is not None else np.zeros(t.shape)
            numeric = np.zeros(t.shape)
            flat = t.data.reshape(-1)
            for k in range(flat.size):
                orig = float(flat[k])
                flat[k] = orig + eps
                plus = scalar(fn(*tensors))
                flat[k] = orig - eps
                minus = scalar(fn(*tensors))
                flat[k] = orig
                numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
            if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
                worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), t.shape)
                raise GradcheckError(
                    f"gradcheck: input {idx} (shape {tuple(t.shape)}): analytic and numerical "
                    f"gradients differ; worst at index {worst}: analytic {analytic[worst]:.8g}, "
                    f"numerical {numeric[worst]:.8g} (atol={atol}, rtol={rtol})"
                )
    return True
