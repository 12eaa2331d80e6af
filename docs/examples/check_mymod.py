"""Run minidl.testing.check_optimizer on docs/examples/mymod.py's optimizers, and compare its
Lion with minidl's own (python docs/examples/check_mymod.py, from the repository's root)."""
import numpy as np

from minidl import optim
from minidl.tensor import Parameter
from minidl.testing import check_optimizer
from mymod import Lion, SignSGD

# w0 = 1, g = 2 then -1, lr 0.1, beta 0.5:  m_1 = 1, w_1 = 0.9;  m_2 = 0, sign(0) = 0, w_2 = 0.9
print(check_optimizer(SignSGD, hand=[{"hyper": {"lr": 0.1, "beta": 0.5}, "w0": [1.0],
                                      "grads": [[2.0], [-1.0]], "expected": [[0.9], [0.9]]}]))
# lr 0.1: c_1 = 0.2, w_1 = 0.9, m_1 = 0.02;  c_2 = 0.018 - 0.1 < 0, w_2 = 1.0
print(check_optimizer(Lion, hand=[{"hyper": {"lr": 0.1}, "w0": [1.0],
                                   "grads": [[2.0], [-1.0]], "expected": [[0.9], [1.0]]}],
                      converge={"lr": 0.01}))

rng = np.random.default_rng(0)
w0 = rng.standard_normal((4, 3))
mine, theirs = Parameter(w0.copy()), Parameter(w0.copy())
ours = Lion([mine], lr=0.01, weight_decay=0.1)
reference = optim.Lion([theirs], convention="paper", lr=0.01, weight_decay=0.1)
for step in range(100):
    g = rng.standard_normal((4, 3))
    mine.grad, theirs.grad = g.copy(), g.copy()
    ours.step()
    reference.step()
print(f"Lion from scratch vs minidl.optim.Lion, 100 steps: max |difference| = "
      f"{np.max(np.abs(mine.data - theirs.data))}")
