r"""Two-dimensional test functions for watching optimizers move.

Each function is written out as a formula that works elementwise on whatever it gets: numpy
grids for contour plots, Python numbers, and minidl Tensors.  The gradient an optimizer sees
(:meth:`Function2D.grad`) comes from minidl's own autograd: the formula evaluated on the two
coordinates as Tensors, then ``backward()``.  The hand-derived gradient of each function
stays beside it (``*_grad``), a reference that ``tests/test_functions2d.py`` checks the
autograd against at many points.  :func:`register` adds a function of one's own (``minidl
trajectories --function "x**2 + 10*y**2"``, parsed by :mod:`minidl.lab.expression`).

=============  =================================================  ==============  ============
name           f(x, y)                                            minimum         start
=============  =================================================  ==============  ============
quadratic      (x^2 + 100 y^2) / 2   (curvatures 1 and 100)       (0, 0), f = 0   (-4, 1)
rosenbrock     (1 - x)^2 + 100 (y - x^2)^2                        (1, 1), f = 0   (-1.2, 1)
beale          (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2             (3, 0.5), f = 0 (1, 1.5)
               + (2.625 - x + xy^3)^2
saddle         x^2 - y^2                                          none (saddle    (-1, 0.001)
                                                                  point at 0)
rastrigin      20 + x^2 + y^2 - 10 cos(2 pi x) - 10 cos(2 pi y)   (0, 0), f = 0;  (-3.3, 2.7)
                                                                  a local minimum
                                                                  near every
                                                                  integer point
sphere         (x^2 + y^2) / 2   (gradient = the point itself)    (0, 0), f = 0   (1, -2)
=============  =================================================  ==============  ============

``sphere`` is the function of ``minidl explain``'s worked examples (g = w); the
first five are the default set of ``minidl trajectories``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from minidl import backend as B
from minidl import ops
from minidl.tensor import Tensor


def _cos(x):
    if isinstance(x, Tensor):
        return ops.cos(x)
    return B.get_array_module(x).cos(x) if B.is_array(x) else math.cos(x)


def _sin(x):
    if isinstance(x, Tensor):
        return ops.sin(x)
    return B.get_array_module(x).sin(x) if B.is_array(x) else math.sin(x)


# ------------------------------------------------------------------ formulas
def quadratic(x, y):
    return 0.5 * (x * x + 100.0 * y * y)


def quadratic_grad(x, y):
    return x, 100.0 * y


def rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def rosenbrock_grad(x, y):
    # d/dx = -2(1 - x) - 400 x (y - x^2);  d/dy = 200 (y - x^2)
    return -2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)


def beale(x, y):
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y * y
    c = 2.625 - x + x * y ** 3
    return a * a + b * b + c * c


def beale_grad(x, y):
    # with a, b, c the three brackets: d/dx = 2a(y - 1) + 2b(y^2 - 1) + 2c(y^3 - 1)
    #                                  d/dy = 2a x + 2b (2xy) + 2c (3xy^2)
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y * y
    c = 2.625 - x + x * y ** 3
    gx = 2.0 * a * (y - 1.0) + 2.0 * b * (y * y - 1.0) + 2.0 * c * (y ** 3 - 1.0)
    gy = 2.0 * a * x + 4.0 * b * x * y + 6.0 * c * x * y * y
    return gx, gy


def saddle(x, y):
    return x * x - y * y


def saddle_grad(x, y):
    return 2.0 * x, -2.0 * y


def rastrigin(x, y):
    two_pi = 2.0 * math.pi
    return 20.0 + x * x + y * y - 10.0 * _cos(two_pi * x) - 10.0 * _cos(two_pi * y)


def rastrigin_grad(x, y):
    # d/dx = 2x + 20 pi sin(2 pi x), the same in y
    two_pi = 2.0 * math.pi
    return 2.0 * x + 10.0 * two_pi * _sin(two_pi * x), 2.0 * y + 10.0 * two_pi * _sin(two_pi * y)


def sphere(x, y):
    return 0.5 * (x * x + y * y)


def sphere_grad(x, y):
    return 1.0 * x, 1.0 * y


# ------------------------------------------------------------------ the catalogue
@dataclass(frozen=True)
class Function2D:
    """A test function, its known minimum and how to draw it.  ``value_xy(x, y)`` is the formula;
    ``grad_xy`` the hand-derived gradient (a reference for the tests; None for a user's
    function): the runs take the gradient from autograd (:meth:`grad`)."""

    name: str
    formula: str
    value_xy: object
    grad_xy: object
    start: tuple
    xlim: tuple
    ylim: tuple
    minimum: tuple | None = None  # the global minimizer, None where there is none
    min_value: float | None = None
    log_contours: bool = False  # contour levels spaced logarithmically (steep valleys)
    levels: int = 25  # number of contour lines drawn
    unbounded: bool = False  # no minimum (unbounded below): leaving the window is an escape, not a divergence
    note: str = ""

    def value(self, w):
        """f at the point ``w`` (an array of shape (2,)), as a Python float."""
        return float(self.value_xy(w[0], w[1]))

    def grad(self, w):
        """The gradient at ``w`` by autograd: f evaluated on ``w`` as a Tensor, then backward;
        an array of ``w``'s array module, dtype and shape (2,)."""
        point = Tensor(w, requires_grad=True, dtype=w.dtype)
        value = self.value_xy(point[0], point[1])
        if not isinstance(value, Tensor):            # a constant function: no path to the point
            return B.get_array_module(w).zeros_like(w)
        value.backward()
        return point.grad

    def hand_grad(self, w):
        """The hand-derived gradient at ``w`` (the reference the tests compare :meth:`grad` with)."""
        xp = B.get_array_module(w)
        gx, gy = self.grad_xy(w[0], w[1])
        return xp.stack([xp.asarray(gx), xp.asarray(gy)]).astype(w.dtype, copy=False)

    def in_window(self, w) -> bool:
        """Whether the point ``w`` lies inside the plot window ``xlim`` x ``ylim``."""
        return (self.xlim[0] <= float(w[0]) <= self.xlim[1]) and (self.ylim[0] <= float(w[1]) <= self.ylim[1])

    def distance_to_minimum(self, w) -> float | None:
        if self.minimum is None:
            return None
        return math.hypot(float(w[0]) - self.minimum[0], float(w[1]) - self.minimum[1])


FUNCTIONS = {
    f.name: f
    for f in [
        Function2D("quadratic", "f = (x^2 + 100 y^2) / 2", quadratic, quadratic_grad,
                   start=(-4.0, 1.0), xlim=(-5.0, 5.0), ylim=(-1.5, 1.5), minimum=(0.0, 0.0), min_value=0.0,
                   note="ill-conditioned: curvature 1 along x, 100 along y"),
        Function2D("rosenbrock", "f = (1 - x)^2 + 100 (y - x^2)^2", rosenbrock, rosenbrock_grad,
                   start=(-1.2, 1.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), minimum=(1.0, 1.0), min_value=0.0,
                   log_contours=True, note="a long curved valley"),
        Function2D("beale", "f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
                   beale, beale_grad, start=(1.0, 1.5), xlim=(-4.5, 4.5), ylim=(-4.5, 4.5),
                   minimum=(3.0, 0.5), min_value=0.0, log_contours=True,
                   note="flat plateaus and steep walls"),
        Function2D("saddle", "f = x^2 - y^2", saddle, saddle_grad, start=(-1.0, 0.001),
                   xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), unbounded=True,
                   note="a saddle point at (0, 0); unbounded below along y"),
        Function2D("rastrigin", "f = 20 + x^2 + y^2 - 10 cos(2 pi x) - 10 cos(2 pi y)", rastrigin,
                   rastrigin_grad, start=(-3.3, 2.7), xlim=(-4.5, 4.5), ylim=(-4.5, 4.5),
                   minimum=(0.0, 0.0), min_value=0.0, levels=10,
                   note="a local minimum near every integer point"),
        Function2D("sphere", "f = (x^2 + y^2) / 2", sphere, sphere_grad, start=(1.0, -2.0),
                   xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), minimum=(0.0, 0.0), min_value=0.0,
                   note="g = w: the worked examples of minidl explain"),
    ]
}

#: the functions ``minidl trajectories`` draws by default
DEFAULT_FUNCTIONS = ("quadratic", "rosenbrock", "beale", "saddle", "rastrigin")


#: functions added by :func:`register` (a user's expression), looked up after FUNCTIONS
USER_FUNCTIONS: dict = {}


def register(function: Function2D) -> Function2D:
    """Make ``function`` known to :func:`get` by its name (a built-in name cannot be taken)."""
    if function.name in FUNCTIONS:
        raise ValueError(f"register: {function.name!r} is a built-in test function; give another name")
    USER_FUNCTIONS[function.name] = function
    return function


def get(name: str) -> Function2D:
    """The test function called ``name``; ValueError listing the names otherwise."""
    key = name.lower() if isinstance(name, str) else name
    if key in FUNCTIONS:
        return FUNCTIONS[key]
    if name in USER_FUNCTIONS:
        return USER_FUNCTIONS[name]
    raise ValueError(f"unknown test function {name!r}; accepted: {', '.join([*FUNCTIONS, *USER_FUNCTIONS])}")
