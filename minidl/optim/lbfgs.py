"""L-BFGS: limited-memory BFGS (Nocedal 1980, "Updating quasi-Newton matrices with limited storage",
Math. Comp. 35; Liu & Nocedal 1989, "On the limited memory BFGS method for large scale optimization",
Math. Programming 45), as ``torch.optim.LBFGS`` runs it, with its optional strong-Wolfe line search.

L-BFGS is not a per-parameter rule: it works on the flat vector w of all the parameters (in
their order, each flattened) and keeps the last history_size pairs s_i = w_{i+1} - w_i,
y_i = g_{i+1} - g_i.  From them the two-loop recursion (Nocedal & Wright, "Numerical
Optimization", Algorithm 7.4) makes d_t = -H_t g_t, where H_t is the BFGS approximation of the
inverse Hessian built from those pairs and the scale H_diag_t * I.  t counts the iterations
(state "n_iter"), over all the calls of ``step``; the history's pairs i are oldest first.

Rule (pytorch):  ``torch.optim.LBFGS``, one iteration

    y_t = g_t - g_{t-1}                                      # t > 1; g_{t-1}: state "prev_flat_grad"
    s_t = d_{t-1} * step_size_{t-1}                          # t > 1; the last step (states "d", "t")
    ys_t = y_t . s_t                                         # t > 1; the pair is kept only if ys_t > 1e-10
    rho_t = 1 / ys_t                                         # ys_t > 1e-10 only; kept in "old_dirs", "old_stps", "ro"
    H_diag_t = ys_t / (y_t . y_t)                            # ys_t > 1e-10 only; state "H_diag", 1 at first
    alpha = rho_i * s_i . q                                  # loop 1, newest pair first; q = -g_t, then q - alpha_i * y_i
    q_t = -g_t - sum_i alpha_i * y_i                         # at the end of the first loop
    r_t = H_diag_t * q_t                                     # the initial inverse Hessian: H_diag_t * I
    beta = rho_i * y_i . d                                   # loop 2, oldest first; d = r_t, then d + (alpha_i - beta_i) * s_i
    d_t = r_t + sum_i (alpha_i - beta_i) * s_i               # at the end of the second loop: -H_t g_t; state "d"
    step_size_t = lr * min(1, 1 / sum(|g_t|))                # t = 1; lr afterwards, or the line search's; state "t"
    gtd_t = g_t . d_t                                        # no step if gtd_t > -tolerance_change
    step_t = step_size_t * d_t
    w_t = w_{t-1} + step_t

Before anything, an iteration whose gradient is already small (max |g_t| <= tolerance_grad)
does nothing.  At t = 1 the history is empty and H_diag = 1, so d_1 = -g_1 and the first step
is at most lr in L1 norm.

``step(closure)`` (a closure clears the gradients, computes the loss, calls ``backward()`` and
returns the loss) runs, as torch, up to max_iter iterations and max_eval evaluations of the
closure.  Without a line search each iteration steps by step_size_t and evaluates the closure
at the new point (but not after the last iteration).  With ``line_search_fn="strong_wolfe"``
the line search (:func:`strong_wolfe`, torch's port of minFunc's, cubic interpolation in
:func:`cubic_interpolate`; c1 = 1e-4, c2 = 0.9, and its own tolerance 1e-9 on the bracket,
whatever tolerance_change is) chooses step_size_t and hands the loss and gradient of the point
it accepts to the next iteration.  The loop stops, as torch's, after max_iter iterations, at
max_eval evaluations, when the gradient is small, when max |step_t| <= tolerance_change or when
the loss changed by less than tolerance_change.  It returns the closure's first loss.

``step()`` without a closure is one iteration on the gradients already in ``.grad``, taken as
the one evaluation at the current point: torch's LBFGS with ``max_iter=1`` and a closure that
returns those gradients (a test checks it).  max_iter and max_eval need a closure, and so does
the line search (``step()`` refuses it).  ``fit`` (and so ``compare``) hands each batch's forward
and backward to ``step`` as a closure (``USES_CLOSURE``): up to max_iter iterations per batch.
``trajectories`` runs ``step()`` without one, one iteration per step, and ``minidl explain lbfgs``
shows such iterations, every line of the rule above, step by step (not the line search, which
needs a closure).

Defaults:

    convention  lr   max_iter  max_eval  tolerance_grad  tolerance_change  history_size  line_search_fn
    pytorch     1    20        None      1e-7            1e-9              100           None

max_eval None means max_iter * 5 // 4 (25 for max_iter = 20), as in torch.

State.  One state for the group, the same dict under each of its parameters (torch keeps it under
the first one, and so does ``state_dict``).  "step" counts the calls of ``step``, "n_iter" the
iterations and "func_evals" the evaluations (the gradients given count as one).  The history
is a ring: arrays "old_dirs" (y) and "old_stps" (s) of shape (history_size, n), n the number
of all elements, and "ro" (rho), of which "num_old" pairs are in use from the slot "oldest"
on; a new pair takes the oldest one's slot when the history is full.  Memory:
(2 * history_size + 2) * n numbers.

.. note:: Where this differs from torch.  One param group only, as torch.  Weight decay and
   clipping (the base's options, which torch's LBFGS lacks) apply to every gradient the
   closure makes, as the base does to ``.grad`` (coupled L2, g + wd * w); with a closure the
   loss the stopping tests and the line search compare is the closure's plus wd / 2 * |w|^2,
   so that loss and gradient agree.  sum(|g_1|) is accumulated in float64 (a float32
   gradient whose L1 norm overflows still takes a step).  The history is fixed-size arrays,
   not lists, and the state has no "al" (a workspace) nor "prev_loss" (reset before every use).
   Each iteration reads three numbers on the host, as torch's comparisons do: max |g_t|,
   ys_t > 1e-10 and gtd_t (and sum(|g_1|) once); the closure's loop and the line search are
   host code.
"""
from __future__ import annotations

import math

from minidl import backend as B
from minidl.optim import clipping, weight_decay
from minidl.optim.optimizer import Optimizer
from minidl.optim.state_check import checked_state
from minidl.optim.validation import check_choice, check_int, check_lr, check_nonnegative
from minidl.tensor import enable_grad, no_grad

#: a pair (s, y) enters the history only when y . s is above this (torch's constant)
CURVATURE_MIN = 1e-10
#: the strong-Wolfe conditions' constants and the line search's own tolerance (torch's)
WOLFE_C1, WOLFE_C2, WOLFE_TOLERANCE = 1e-4, 0.9, 1e-9


class LBFGS(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {"pytorch": {"lr": 1.0, "max_iter": 20, "max_eval": None, "tolerance_grad": 1e-7,
                            "tolerance_change": 1e-9, "history_size": 100, "line_search_fn": None}}
    ELEMENTWISE = False
    #: fit hands it the step's forward and backward as a closure (minidl/train/step.py)
    USES_CLOSURE = True
    #: update() takes the flat vector of all the group's parameters (explain passes it so)
    FLAT_VECTOR = True

    def __init__(self, params, lr=None, max_iter=None, max_eval=None, tolerance_grad=None, tolerance_change=None,
                 history_size=None, line_search_fn=None, weight_decay=None, convention="pytorch", **options):
        super().__init__(params, convention, lr=lr, max_iter=max_iter, max_eval=max_eval,
                         tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                         history_size=history_size, line_search_fn=line_search_fn,
                         weight_decay=weight_decay, **options)

    def add_param_group(self, group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS: one param group only (as torch.optim.LBFGS): its state is that of the "
                             "flat vector of all its parameters")
        super().add_param_group(group)

    def validate(self, group):
        check_lr(group["lr"])
        check_int(group["max_iter"], "max_iter", minimum=1)
        if group["max_eval"] is not None:
            check_int(group["max_eval"], "max_eval", minimum=1)
        check_nonnegative(group["tolerance_grad"], "tolerance_grad")
        check_nonnegative(group["tolerance_change"], "tolerance_change")
        check_int(group["history_size"], "history_size", minimum=1)
        check_choice(group["line_search_fn"], "line_search_fn", (None, "strong_wolfe"))

    def init_state(self, w, group):
        """The group's state, for the flat vector of all its parameters (n elements); ``w``, any
        array of the group, gives the dtype and the device."""
        xp = B.get_array_module(w)
        n, h = sum(p.data.size for p in group["params"]), group["history_size"]
        return {"step": 0, "func_evals": 0, "n_iter": 0, "d": xp.zeros(n, w.dtype), "t": 0.0,
                "prev_flat_grad": xp.zeros(n, w.dtype), "H_diag": xp.ones((), w.dtype),
                "old_dirs": xp.zeros((h, n), w.dtype), "old_stps": xp.zeros((h, n), w.dtype),
                "ro": xp.zeros(h, w.dtype), "num_old": 0, "oldest": 0}

    def update(self, w, g, state, group, line_search=None):
        """One iteration from ``w`` (the flat vector of the parameters, moved in place), whose
        gradient is ``g``.  False, ``w`` unchanged, when g is small or d_t no descent direction.
        ``line_search(w, step_size, d, gtd)``, given by ``step(closure)``, returns the step length."""
        xp = B.get_array_module(w)
        if float(xp.abs(g).max()) <= group["tolerance_grad"]:
            return False
        state["n_iter"] += 1
        if state["n_iter"] > 1:
            y = g - state["prev_flat_grad"]
            s = state["d"] * state["t"]
            ys = y.dot(s)
            if bool(ys > CURVATURE_MIN):
                rho = 1.0 / ys
                H_diag = ys / y.dot(y)
                _remember(state, y, s, rho, H_diag, group["history_size"])
        slots = _history_slots(state, group["history_size"])
        dirs, stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        q = -g
        alpha = xp.zeros(len(slots), g.dtype)
        for j in reversed(range(len(slots))):
            alpha[j] = stps[slots[j]].dot(q) * ro[slots[j]]
            q -= alpha[j] * dirs[slots[j]]
        r = q * state["H_diag"]
        d = r.copy()
        beta = xp.zeros(len(slots), g.dtype)
        for j, i in enumerate(slots):
            beta[j] = dirs[i].dot(d) * ro[i]
            d += (alpha[j] - beta[j]) * stps[i]
        state["prev_flat_grad"][...] = g
        if state["n_iter"] == 1:
            step_size = min(1.0, 1.0 / float(xp.abs(g).sum(dtype=B.np.float64))) * group["lr"]
        else:
            step_size = group["lr"]
        gtd = g.dot(d)
        state["d"][...] = d
        state["t"] = step_size
        if bool(gtd > -group["tolerance_change"]):
            return False
        if line_search is not None:
            step_size = state["t"] = line_search(w, step_size, d, gtd)
        step = step_size * d
        w += step
        return True

    # ------------------------------------------------------------------ steps
    def step(self, closure=None):
        """With ``closure``: up to max_iter iterations (see the class docstring); returns the
        closure's first loss.  Without: one iteration on the gradients already in ``.grad``."""
        group = self.param_groups[0]
        if closure is not None:
            with no_grad():
                return self._minimize(closure, group)
        if group["line_search_fn"] is not None:
            raise ValueError(f"LBFGS.step: line_search_fn={group['line_search_fn']!r} evaluates the loss along "
                             "the direction, which needs a closure: call step(closure)")
        params = group["params"]
        if all(p.grad is None for p in params):
            return None
        guarded = self.check_gradients()
        with no_grad():
            w = _flat([p.data for p in params])
            g = self._flat_gradient(group, w)
            state = self._group_state(group)
            state["step"] += 1
            state["func_evals"] += 1
            saved = {k: (v.copy() if B.is_array(v) else v) for k, v in state.items()} if guarded else None
            moved = self.update(w, g, state, group)
            if saved is not None and not _all_finite(w, state):
                state.clear()
                state.update(saved)                 # the same dict: every parameter keeps sharing it
                raise FloatingPointError(
                    f"LBFGS.step: the weights or the state became NaN or Inf (the gradient is finite but "
                    f"the squares of its elements overflow {w.dtype}); weights and state left as they were")
            if moved:
                _write(params, w)
        return None

    def _minimize(self, closure, group):
        """``step(closure)``: torch's loop of iterations and its stopping tests."""
        params, max_iter, tolerance_change = group["params"], group["max_iter"], group["tolerance_change"]
        max_eval = group["max_eval"] if group["max_eval"] is not None else max_iter * 5 // 4
        w = _flat([p.data for p in params])
        xp = B.get_array_module(w)
        evaluate = _Evaluation(self, group, closure)
        try:
            loss, g = evaluate(w)
            first_loss = evaluate.first_loss
            state = self._group_state(group)
            state["step"] += 1
            state["func_evals"] += 1
            evaluations = 1
            for n_iter in range(1, max_iter + 1):
                prev_loss = loss
                search = None if group["line_search_fn"] is None else _WolfeSearch(evaluate, loss, g,
                                                                                   max_eval - evaluations)
                if not self.update(w, g, state, group, line_search=search):
                    break
                if search is not None:
                    loss, g, used = search.loss, search.grad, search.evaluations
                elif n_iter != max_iter:            # torch evaluates again but after the last iteration
                    (loss, g), used = evaluate(w), 1
                else:
                    used = 0
                evaluations += used
                state["func_evals"] += used
                if n_iter == max_iter or evaluations >= max_eval:
                    break
                if float(xp.abs(state["d"] * state["t"]).max()) <= tolerance_change:
                    break
                if abs(loss - prev_loss) < tolerance_change:
                    break
        finally:
            _write(params, w)
        return first_loss

    def _flat_gradient(self, group, w):
        """The gradients of the group's parameters as one vector (zeros where ``.grad`` is None),
        clipped and with weight decay, as the base's ``step`` applies them."""
        xp = B.get_array_module(w)
        grads = [p.grad if p.grad is not None else xp.zeros_like(p.data) for p in group["params"]]
        g = _flat(clipping.clip_gradients(grads, group))
        return weight_decay.apply(w, g, group, self.decouples_weight_decay(group))

    def _group_state(self, group) -> dict:
        """The group's one state, made at the first step, the same dict under every parameter."""
        params = group["params"]
        state = self.state_for(params[0], group)
        for p in params[1:]:
            self.state[p] = state
        return state

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """As the base's, with the group's state once, under its first parameter (index 0)."""
        first = self.param_groups[0]["params"][0]
        everything, self.state = self.state, ({first: self.state[first]} if first in self.state else {})
        try:
            return super().state_dict()
        finally:
            self.state = everything

    def load_state_dict(self, state_dict: dict) -> None:
        """As the base's (everything checked first, all or nothing); the state, saved under
        parameter 0 only, is then shared by every parameter of the group."""
        groups, state = checked_state(self, state_dict)
        others = sorted(str(k) for k in state_dict["state"] if str(k) != "0")
        if others:
            raise ValueError(f"LBFGS.load_state_dict: the group's state is saved under parameter 0 only; "
                             f"this one has entries for {others}")
        params = groups[0]["params"]
        shared = state.get(params[0])
        self.param_groups, self.state = groups, ({p: shared for p in params} if shared is not None else {})


# ---------------------------------------------------------------------- the flat vector
def _flat(arrays):
    xp = B.get_array_module(arrays[0])
    return xp.concatenate([a.reshape(-1) for a in arrays])


def _write(params, w) -> None:
    """Put the flat vector ``w`` back into the parameters."""
    offset = 0
    for p in params:
        size = p.data.size
        p.data[...] = w[offset:offset + size].reshape(p.data.shape)
        offset += size


def _all_finite(w, state) -> bool:
    xp = B.get_array_module(w)
    return all(bool(xp.isfinite(v).all()) for v in (w, *state.values()) if B.is_array(v))


def _history_slots(state, history_size) -> list:
    """The ring's slots in use, oldest pair first."""
    return [(state["oldest"] + k) % history_size for k in range(state["num_old"])]


def _remember(state, y, s, rho, H_diag, history_size) -> None:
    """Add the pair (y, s) and its rho to the history (over the oldest pair when it is full)."""
    if state["num_old"] == history_size:
        slot = state["oldest"]
        state["oldest"] = (state["oldest"] + 1) % history_size
    else:
        slot = (state["oldest"] + state["num_old"]) % history_size
        state["num_old"] += 1
    state["old_dirs"][slot] = y
    state["old_stps"][slot] = s
    state["ro"][slot] = rho
    state["H_diag"][...] = H_diag


class _Evaluation:
    """f and its flat gradient at a point: the point put into the parameters, the closure run,
    the gradients checked, clipped and with weight decay (whose L2 term is added to f)."""

    def __init__(self, opt, group, closure):
        self.opt, self.group, self.closure = opt, group, closure
        self.first_loss = None

    def __call__(self, w):
        _write(self.group["params"], w)
        with enable_grad():
            loss = self.closure()
        if self.first_loss is None:
            self.first_loss = loss
        self.opt.check_gradients()
        value = float(loss.item() if hasattr(loss, "item") else loss)
        if self.group["weight_decay"]:
            value += 0.5 * self.group["weight_decay"] * float(w.dot(w))
        return value, self.opt._flat_gradient(self.group, w)


class _WolfeSearch:
    """The line search that ``step(closure)`` hands to ``update``: :func:`strong_wolfe` from w along
    d; keeps the loss, the gradient and the number of evaluations of the point it accepts."""

    def __init__(self, evaluate, loss, grad, max_ls):
        self.evaluate, self.loss, self.grad, self.max_ls, self.evaluations = evaluate, loss, grad, max_ls, 0

    def __call__(self, w, step_size, d, gtd):
        def along(t):
            return self.evaluate(w + t * d)

        self.loss, self.grad, t, self.evaluations = strong_wolfe(along, step_size, d, self.loss, self.grad,
                                                                 float(gtd), max_ls=self.max_ls)
        return t


# ---------------------------------------------------------------------- the line search
def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, within
    ``bounds`` (default: between x1 and x2); their middle when the cubic has none (torch's
    ``_cubic_interpolate``, from minFunc's polyinterp)."""
    xmin_bound, xmax_bound = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    if x1 == x2:                             # torch divides by zero here: nan, and then the middle
        return (xmin_bound + xmax_bound) / 2.0
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(along, t, d, f, g, gtd, max_ls=25):
    """A step length t along ``d`` that satisfies the strong Wolfe conditions (Nocedal & Wright,
    Algorithms 3.5 and 3.6; torch's ``_strong_wolfe``, from minFunc's): f(t) <= f + c1 t gtd and
    |f'(t)| <= c2 |gtd|.  ``along(t)`` gives (f, flat gradient) at w + t d; f, g, gtd are those at
    t = 0.  Returns (f, g at the accepted t, t, the number of evaluations)."""
    xp = B.get_array_module(d)
    d_norm = float(xp.abs(d).max())
    f_new, g_new = along(t)
    gtd_new = float(g_new.dot(d))
    bracket, done, ls_iter = _bracket(along, t, d, (f, g, gtd), (f_new, g_new, gtd_new), max_ls)
    evaluations = 1 + ls_iter
    if not done:
        ls_iter = _zoom(along, d, d_norm, (f, gtd), bracket, ls_iter, max_ls)
        evaluations = 1 + ls_iter
    t_best, f_best, g_best, _ = bracket[bracket.low]
    return f_best, g_best, t_best, evaluations


class _Bracket(list):
    """Points (t, f, g, gtd) of the line search; ``low`` is the index of the lower f."""

    @property
    def low(self):
        return 0 if len(self) == 1 or self[0][1] <= self[1][1] else 1


def _bracket(along, t, d, start, new, max_ls):
    """Grow t until an interval holds a point that satisfies the conditions (or one does):
    (the bracket, whether its one point is already good, the iterations used)."""
    f, _, gtd = start
    prev = (0, *start)
    f_new, g_new, gtd_new = new
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + WOLFE_C1 * t * gtd) or (ls_iter > 1 and f_new >= prev[1]):
            return _Bracket([prev, (t, f_new, g_new, gtd_new)]), False, ls_iter
        if abs(gtd_new) <= -WOLFE_C2 * gtd:
            return _Bracket([(t, f_new, g_new, gtd_new)]), True, ls_iter
        if gtd_new >= 0:
            return _Bracket([prev, (t, f_new, g_new, gtd_new)]), False, ls_iter
        min_step, max_step = t + 0.01 * (t - prev[0]), t * 10
        t_next = cubic_interpolate(prev[0], prev[1], prev[3], t, f_new, gtd_new, bounds=(min_step, max_step))
        prev = (t, f_new, g_new, gtd_new)
        t = t_next
        f_new, g_new = along(t)
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    # max_ls reached: the bracket from 0 to the last t (torch keeps the gtd of neither)
    return _Bracket([(0, f, start[1], None), (t, f_new, g_new, None)]), False, ls_iter


def _zoom(along, d, d_norm, start, bracket, ls_iter, max_ls) -> int:
    """Shrink the bracket (in place) until its low point satisfies the conditions; returns the
    iterations used in all."""
    f, gtd = start
    insufficient_progress = False
    done = False
    while not done and ls_iter < max_ls:
        (t_a, f_a, _, gtd_a), (t_b, f_b, _, gtd_b) = bracket
        if abs(t_b - t_a) * d_norm < WOLFE_TOLERANCE:
            break
        t = cubic_interpolate(t_a, f_a, gtd_a, t_b, f_b, gtd_b)
        high, low = max(t_a, t_b), min(t_a, t_b)
        eps = 0.1 * (high - low)
        if min(high - t, t - low) < eps:            # t is too close to an end of the bracket
            if insufficient_progress or t >= high or t <= low:
                t = high - eps if abs(t - high) < abs(t - low) else low + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = along(t)
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        low_pos = bracket.low
        high_pos = 1 - low_pos
        if f_new > (f + WOLFE_C1 * t * gtd) or f_new >= bracket[low_pos][1]:
            bracket[high_pos] = (t, f_new, g_new, gtd_new)      # not low enough: the new high end
        else:
            if abs(gtd_new) <= -WOLFE_C2 * gtd:
                done = True                                     # the Wolfe conditions hold
            elif gtd_new * (bracket[high_pos][0] - bracket[low_pos][0]) >= 0:
                bracket[high_pos] = bracket[low_pos]            # the old low end becomes the high end
            bracket[low_pos] = (t, f_new, g_new, gtd_new)
    return ls_iter
