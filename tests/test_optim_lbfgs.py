"""L-BFGS with a closure: torch.optim.LBFGS parity over 100 outer steps (float64, a (3, 4) parameter,
with and without the strong-Wolfe line search), the line search and the cubic interpolation by hand,
the stopping rules, the one shared state and its state_dict, and step() without a closure (the shared
table, tests/optim_cases/lbfgs.py, has the iteration itself by hand).

Both sides get the same gradients: each closure computes the loss and gradient with the same NumPy
function of the parameter's current values, so what is compared is the optimizers alone.
"""
import copy
import inspect
import sys

import numpy as np
import pytest

from minidl import optim
from minidl.optim.lbfgs import LBFGS, cubic_interpolate, strong_wolfe
from minidl.tensor import Parameter, is_grad_enabled
from optim_testutil import problem, torch64  # noqa: F401  (torch64 is a fixture)

RNG = np.random.default_rng(0)
A, B_TARGET = RNG.standard_normal((20, 3)), RNG.standard_normal((20, 4))
X, LABELS = RNG.standard_normal((50, 3)), RNG.integers(0, 4, 50)
W0 = 2 * RNG.standard_normal((3, 4))


def least_squares(W):
    """0.5 |A W - B|^2 / 20 + 0.05 |W|^2: a quadratic."""
    R = A @ W - B_TARGET
    return 0.5 * np.sum(R * R) / 20 + 0.05 * np.sum(W * W), A.T @ R / 20 + 0.1 * W


def quartic(W):
    """Least squares plus sum(W^4) / 4: convex, not quadratic."""
    R = A @ W - B_TARGET
    return 0.5 * np.sum(R * R) / 20 + 0.25 * np.sum(W ** 4), A.T @ R / 20 + W ** 3


def softmax_regression(W):
    """The mean cross-entropy of a 4-class softmax regression on 50 points, plus 0.005 |W|^2."""
    Z = X @ W
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(P[np.arange(50), LABELS])) + 0.005 * np.sum(W * W)
    P[np.arange(50), LABELS] -= 1
    return loss, X.T @ P / 50 + 0.01 * W


def rosenbrock(W):
    """The Rosenbrock function of each pair (W.flat[2i], W.flat[2i+1]), summed: minimum 0 at all ones."""
    x = W.reshape(-1)
    a, b = x[0::2], x[1::2]
    g = np.zeros_like(x)
    g[0::2] = -400 * a * (b - a * a) - 2 * (1 - a)
    g[1::2] = 200 * (b - a * a)
    return float(np.sum(100 * (b - a * a) ** 2 + (1 - a) ** 2)), g.reshape(W.shape)


def run_ours(fn, w0, steps, **hyper):
    p = Parameter(np.array(w0))
    opt = LBFGS([p], **hyper)

    def closure():
        value, grad = fn(p.data)
        p.grad = grad
        return value

    weights = []
    for _ in range(steps):
        opt.step(closure)
        weights.append(p.data.copy())
    return np.array(weights), opt.state[p]


def run_torch(torch, fn, w0, steps, **hyper):
    tp = torch.tensor(np.array(w0), requires_grad=True)
    opt = torch.optim.LBFGS([tp], **hyper)

    def closure():
        value, grad = fn(tp.detach().numpy())
        tp.grad = torch.tensor(grad)
        return torch.tensor(value)

    weights = []
    for _ in range(steps):
        opt.step(closure)
        weights.append(tp.detach().numpy().copy())
    return np.array(weights), opt.state[tp]


def relative_difference(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def history_of(state):
    """Our ring as torch's lists, oldest first: (old_dirs, old_stps, ro)."""
    slots = [(state["oldest"] + k) % len(state["ro"]) for k in range(state["num_old"])]
    return state["old_dirs"][slots], state["old_stps"][slots], state["ro"][slots]


# ------------------------------------------------------------------------------ torch parity
PARITY = {
    # fixed steps, one iteration per outer step, the ring of 5 pairs wraps: 99 of the 100 steps move
    "least squares, lr 0.1, max_iter 1": (least_squares, {"lr": 0.1, "max_iter": 1, "history_size": 5}),
    "quartic, lr 0.3, max_iter 2": (quartic, {"lr": 0.3, "max_iter": 2, "history_size": 3}),
    # the line search: lr 10 overshoots, so every search zooms; lr 0.01 falls short, so the bracket grows
    "softmax, strong_wolfe, lr 10": (softmax_regression, {"lr": 10.0, "max_iter": 4, "max_eval": 30,
                                                          "history_size": 3, "line_search_fn": "strong_wolfe"}),
    "quartic, strong_wolfe, lr 0.01": (quartic, {"lr": 0.01, "max_iter": 2, "history_size": 3,
                                                 "line_search_fn": "strong_wolfe"}),
    "softmax, strong_wolfe, defaults": (softmax_regression, {"line_search_fn": "strong_wolfe"}),
    "least squares, defaults": (least_squares, {}),
}


@pytest.mark.parametrize("fn, hyper", list(PARITY.values()), ids=list(PARITY))
def test_matches_torch_over_100_closure_steps(fn, hyper, torch64):
    ours_w, our_state = run_ours(fn, W0, 100, **hyper)
    theirs_w, their_state = run_torch(torch64, fn, W0, 100, **hyper)
    assert relative_difference(ours_w, theirs_w) <= 1e-10          # 1e-13 or better measured
    assert our_state["n_iter"] == their_state["n_iter"] and our_state["func_evals"] == their_state["func_evals"]
    np.testing.assert_allclose(our_state["d"], their_state["d"].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(our_state["t"], float(their_state["t"]), rtol=1e-10)
    np.testing.assert_allclose(our_state["prev_flat_grad"], their_state["prev_flat_grad"].numpy(),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(our_state["H_diag"], float(their_state["H_diag"]), rtol=1e-9)
    dirs, stps, ro = history_of(our_state)
    assert len(ro) == len(their_state["ro"])
    np.testing.assert_allclose(dirs, np.array([y.numpy() for y in their_state["old_dirs"]]).reshape(dirs.shape),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stps, np.array([s.numpy() for s in their_state["old_stps"]]).reshape(stps.shape),
                               rtol=1e-9, atol=1e-12)
    # ro = 1 / (y . s): near convergence y = g_k - g_{k-1} loses digits to cancellation, so its
    # reciprocal carries them (1.2e-9 relative seen on the lr-10 line search, the weights still 1e-13)
    np.testing.assert_allclose(ro, [float(r) for r in their_state["ro"]], rtol=1e-8)


def test_the_parity_runs_take_the_line_search_through_both_phases():
    # what the parity runs above exercise (else they would prove less): the zoom and the growing bracket
    import minidl.optim.lbfgs as lbfgs_module

    seen = {"zoom": 0, "grow": 0, "wrap": 0}
    zoom, bracket, remember = lbfgs_module._zoom, lbfgs_module._bracket, lbfgs_module._remember

    def counting_zoom(*args):
        used = zoom(*args)
        seen["zoom"] += used - args[5]
        return used

    def counting_bracket(*args):
        result = bracket(*args)
        seen["grow"] += result[2]
        return result

    def counting_remember(state, *args):
        seen["wrap"] += state["num_old"] == args[-1]
        return remember(state, *args)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(lbfgs_module, "_zoom", counting_zoom)
        m.setattr(lbfgs_module, "_bracket", counting_bracket)
        m.setattr(lbfgs_module, "_remember", counting_remember)
        for fn, hyper in PARITY.values():
            run_ours(fn, W0, 100, **hyper)
    assert seen["zoom"] >= 10 and seen["grow"] >= 50 and seen["wrap"] >= 50, seen   # 13, 101, 240 measured


def zoom_lines(*fragments):
    """The line numbers, in the file, of the lines of ``_zoom`` that hold each fragment."""
    import minidl.optim.lbfgs as lbfgs_module

    source, first = inspect.getsourcelines(lbfgs_module._zoom)
    return {f: next(first + i for i, line in enumerate(source) if f in line) for f in fragments}


def test_the_line_search_is_torchs_on_400_random_searches(torch64):
    # torch's own _strong_wolfe and ours, on the same 2-D functions (a quartic and a sine along d, plus a
    # quadratic), from initial steps between 1e-3 and 1e3: the same number of evaluations; the accepted t to
    # 1e-6 relative (1e-12 but for 2 of 400, where the cubic through two nearly equal slopes is ill-conditioned
    # and torch's dot products, summed in another order, move t by up to 1e-8), f to 1e-10
    lbfgs_torch = pytest.importorskip("torch.optim.lbfgs")
    if not hasattr(lbfgs_torch, "_strong_wolfe"):
        pytest.skip("this torch has no torch.optim.lbfgs._strong_wolfe")
    lines = zoom_lines("t = high - eps", "insufficient_progress = True", "bracket[high_pos] = bracket[low_pos]",
                       "the new high end")
    hits = dict.fromkeys(lines.values(), 0)

    def tracer(frame, event, arg):
        if event == "line" and frame.f_lineno in hits:
            hits[frame.f_lineno] += 1
        return tracer

    rng = np.random.default_rng(0)
    close = 0
    for _ in range(400):
        coef = rng.standard_normal(4) * np.array([10, 5, 3, 1])
        coef[0] = abs(coef[0]) + 0.1
        x0, d = rng.standard_normal(2), rng.standard_normal(2)
        M = rng.standard_normal((2, 2))
        H = M @ M.T + 0.1 * np.eye(2)

        def fg(x, coef=coef, d=d, H=H):
            s = x @ d
            f = coef[0] * s ** 4 + coef[1] * s ** 3 + 0.5 * x @ H @ x + coef[3] * np.sin(3 * s)
            return float(f), (4 * coef[0] * s ** 3 + 3 * coef[1] * s ** 2 + 3 * coef[3] * np.cos(3 * s)) * d + H @ x

        if fg(x0)[1] @ d > 0:
            d = -d
        f0, g0 = fg(x0, d=d)
        gtd = float(g0 @ d)
        t0 = 10.0 ** rng.uniform(-3, 3)
        sys.settrace(lambda frame, event, arg: tracer if frame.f_code.co_name == "_zoom" else None)
        try:
            f, g, t, evaluations = strong_wolfe(lambda t: fg(x0 + t * d, d=d), t0, d, f0, g0, gtd)
        finally:
            sys.settrace(None)
        their_f, _, their_t, their_evaluations = lbfgs_torch._strong_wolfe(
            lambda x, t, dd: (fg(x0 + float(t) * d, d=d)[0], torch64.tensor(fg(x0 + float(t) * d, d=d)[1])),
            torch64.tensor(x0), t0, torch64.tensor(d), f0, torch64.tensor(g0), torch64.tensor(gtd))
        assert evaluations == their_evaluations
        assert abs(t - float(their_t)) <= 1e-6 * abs(float(their_t))
        assert abs(f - float(their_f)) <= 1e-10 * max(1.0, abs(float(their_f)))
        close += abs(t - float(their_t)) <= 1e-12 * abs(float(their_t))
    assert close >= 395
    assert all(count > 0 for count in hits.values()), {f: hits[n] for f, n in lines.items()}


def test_two_parameters_are_one_flat_vector_as_in_torch(torch64):
    # a weight (3, 4) and a bias (4,): f = softmax regression with a bias; the flat order is the parameters' order
    def loss_and_grads(W, b):
        Z = X @ W + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(P[np.arange(50), LABELS])) + 0.005 * np.sum(W * W)
        P[np.arange(50), LABELS] -= 1
        return loss, X.T @ P / 50 + 0.01 * W, P.mean(axis=0)

    w, b = Parameter(W0.copy()), Parameter(np.zeros(4))
    opt = LBFGS([w, b], line_search_fn="strong_wolfe", max_iter=3, history_size=4)
    tw, tb = torch64.tensor(W0.copy(), requires_grad=True), torch64.zeros(4, requires_grad=True)
    topt = torch64.optim.LBFGS([tw, tb], line_search_fn="strong_wolfe", max_iter=3, history_size=4)

    def closure():
        loss, w.grad, b.grad = loss_and_grads(w.data, b.data)
        return loss

    def torch_closure():
        loss, gw, gb = loss_and_grads(tw.detach().numpy(), tb.detach().numpy())
        tw.grad, tb.grad = torch64.tensor(gw), torch64.tensor(gb)
        return torch64.tensor(loss)

    for _ in range(100):
        opt.step(closure)
        topt.step(torch_closure)
    assert relative_difference(w.data, tw.detach().numpy()) <= 1e-10
    assert relative_difference(b.data, tb.detach().numpy()) <= 1e-10
    assert opt.state[w] is opt.state[b]                         # one state for the group


def test_rosenbrock_both_reach_the_minimum_and_agree_on_the_first_step(torch64):
    # not convex: rounding differences (a dot product summed in another order, torch's fused
    # multiply-adds) grow from the second outer step on, so only the first is compared closely
    w0 = np.tile([-1.2, 1.0], 6).reshape(3, 4) + 0.1 * np.random.default_rng(1).standard_normal((3, 4))
    for hyper in ({}, {"line_search_fn": "strong_wolfe"}):
        ours_w, _ = run_ours(rosenbrock, w0, 100, **hyper)
        theirs_w, _ = run_torch(torch64, rosenbrock, w0, 100, **hyper)
        assert relative_difference(ours_w[0], theirs_w[0]) <= 1e-10
        assert rosenbrock(ours_w[-1])[0] < 1e-7 and rosenbrock(theirs_w[-1])[0] < 1e-7   # from f = 115


# ------------------------------------------------------------------------------ without a closure
def test_step_without_a_closure_is_torchs_with_max_iter_1_on_the_same_gradients(torch64):
    # g_t from a standard normal (not a function's gradient: the pairs are often refused, ys <= 1e-10)
    w0, grads = problem(1)
    p = Parameter(w0.copy())
    opt = LBFGS([p], lr=0.1, history_size=5)
    tp = torch64.tensor(w0.copy(), requires_grad=True)
    topt = torch64.optim.LBFGS([tp], lr=0.1, history_size=5, max_iter=1)
    q = Parameter(w0.copy())
    with_closure = LBFGS([q], lr=0.1, history_size=5, max_iter=1)
    for g in grads:
        p.grad = g.copy()
        opt.step()

        def torch_closure(g=g):
            tp.grad = torch64.tensor(g)
            return torch64.tensor(0.0)

        def closure(g=g):
            q.grad = g.copy()
            return 0.0

        topt.step(torch_closure)
        with_closure.step(closure)
        assert relative_difference(p.data, tp.detach().numpy()) <= 1e-10
    np.testing.assert_array_equal(p.data, q.data)              # the same iteration, bit for bit
    assert opt.state[p]["n_iter"] == topt.state[tp]["n_iter"] == 100
    assert opt.state[p]["step"] == opt.state[p]["func_evals"] == 100


def test_step_without_a_closure_refuses_the_line_search():
    p = Parameter(np.ones(3))
    opt = LBFGS([p], line_search_fn="strong_wolfe")
    p.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"line_search_fn='strong_wolfe' .* needs a closure: call step\(closure\)"):
        opt.step()
    np.testing.assert_array_equal(p.data, np.ones(3))
    assert p not in opt.state


def test_without_gradients_nothing_happens():
    p = Parameter(np.ones(3))
    opt = LBFGS([p])
    assert opt.step() is None and p not in opt.state


# ------------------------------------------------------------------------------ by hand
def test_cubic_interpolation_by_hand():
    # f(x) = x^3 - 3x through x = 0 (f 0, f' -3) and x = 2 (f 2, f' 9): the cubic is f, minimum at 1:
    # d1 = -3 + 9 - 3*(0 - 2)/(0 - 2) = 3;  d2 = sqrt(9 + 27) = 6;  x = 2 - 2*(9 + 6 - 3)/(9 + 3 + 12) = 1
    assert cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0) == 1.0
    assert cubic_interpolate(2.0, 2.0, 9.0, 0.0, 0.0, -3.0) == 1.0          # either order
    assert cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0, bounds=(1.5, 4.0)) == 1.5   # clipped to the bounds
    # f(0) = 0, f'(0) = 2, f(1) = 1.5, f'(1) = 2: d1 = 4 - 3*(-1.5)/(-1) = -0.5, d1^2 - g1 g2 = 0.25 - 4 < 0:
    # no minimum, the middle of the interval
    assert cubic_interpolate(0.0, 0.0, 2.0, 1.0, 1.5, 2.0) == 0.5
    assert cubic_interpolate(1.0, 0.0, 2.0, 1.0, 0.0, 2.0, bounds=(0.0, 3.0)) == 1.5   # one point: the middle


def test_strong_wolfe_by_hand():
    # f(x) = (x - 3)^2 from x = 0 along d = 1: f = 9, f' = gtd = -6
    def along(t):
        x = np.array([t])
        return float((x[0] - 3) ** 2), 2 * (x - 3)

    d, g0 = np.array([1.0]), np.array([-6.0])
    # t = 1: f = 4 <= 9 + 1e-4*1*(-6); |f'| = 4 <= 0.9*6 = 5.4: accepted as it is, one evaluation
    f, g, t, evaluations = strong_wolfe(along, 1.0, d, 9.0, g0, -6.0)
    assert (f, t, evaluations) == (4.0, 1.0, 1) and g.tolist() == [-4.0]
    # t = 10: f = 49 > 9 - 0.006: the bracket [0, 10]; zoom: the cubic through (0, 9, -6) and (10, 49, 14) is f,
    # d1 = -6 + 14 - 3*(9 - 49)/(0 - 10) = -4, d2 = sqrt(16 + 84) = 10, t = 10 - 10*(14 + 10 + 4)/(14 + 6 + 20) = 3;
    # f(3) = 0, f'(3) = 0: the Wolfe conditions hold; two evaluations
    f, g, t, evaluations = strong_wolfe(along, 10.0, d, 9.0, g0, -6.0)
    assert (f, t, evaluations) == (0.0, 3.0, 2) and g.tolist() == [0.0]
    # t = 0.1: f = 8.41, f' = -5.8 (|f'| > 5.4, still going down): the bracket grows to
    # cubic_interpolate(0, 9, -6, 0.1, 8.41, -5.8, bounds=(0.101, 1)) = 1 (the cubic's minimum, 3, clipped);
    # f(1) = 4, |f'(1)| = 4 <= 5.4: accepted, two evaluations
    f, g, t, evaluations = strong_wolfe(along, 0.1, d, 9.0, g0, -6.0)
    assert (f, t, evaluations) == (4.0, 1.0, 2)


def test_a_closure_run_by_hand():
    # f = |w|^2 / 2 from (1, -3), strong_wolfe: iteration 1, d = -g = (-1, 3), t = 1/4: f((3/4) w0) = 9/16 * 5
    # = 2.8125 <= 5 - 1e-4 * 10/4 and |f'| = |(3/4) w0 . (-w0)| = 7.5 <= 0.9 * 10: accepted, w = (0.75, -2.25).
    # Iteration 2: the pair makes H = I, d = -g, t = 1: f = 0, f' = 0, accepted, w = (0, 0).  Iteration 3: g = 0,
    # max |g| <= tolerance_grad: the loop ends.  Evaluations: 1 + 1 + 1; the first loss, 5, is returned.
    p = Parameter(np.array([1.0, -3.0]))
    opt = LBFGS([p], line_search_fn="strong_wolfe")
    grad_on = []

    def closure():
        grad_on.append(is_grad_enabled())
        p.grad = p.data.copy()
        return 0.5 * float(p.data @ p.data)

    assert opt.step(closure) == 5.0
    np.testing.assert_array_equal(p.data, [0.0, 0.0])
    state = opt.state[p]
    assert (state["step"], state["n_iter"], state["func_evals"], state["num_old"], state["t"]) == (1, 2, 3, 1, 1.0)
    assert grad_on == [True, True, True]
    assert opt.step(closure) == 0.0 and state["n_iter"] == 2 and state["func_evals"] == 4   # at the minimum


# ------------------------------------------------------------------------------ the stopping rules
def counted(fn):
    calls = []

    def closure_for(p):
        def closure():
            calls.append(1)
            value, p.grad = fn(p.data)
            return value
        return closure
    return calls, closure_for


def test_max_iter_and_max_eval_bound_one_step():
    # (hyperparameters, iterations, evaluations), as torch.optim.LBFGS counts them on this problem:
    # max_iter 4 (max_eval 5): four iterations, four evaluations (none after the last iteration);
    # max_eval 4: the loop ends after the iteration whose evaluation is the fourth;
    # strong_wolfe, max_iter 5 (max_eval 6): each line search may use what max_eval leaves; three iterations;
    # strong_wolfe with max_eval 3: the first line search gets 2 evaluations and the loop ends
    for hyper, iterations, evaluations in (({"max_iter": 4, "lr": 0.1}, 4, 4),
                                           ({"max_iter": 10, "max_eval": 4, "lr": 0.1}, 3, 4),
                                           ({"max_iter": 5, "line_search_fn": "strong_wolfe", "lr": 10.0}, 3, 6),
                                           ({"max_eval": 3, "line_search_fn": "strong_wolfe", "lr": 30.0}, 1, 3)):
        calls, closure_for = counted(softmax_regression)
        p = Parameter(W0.copy())
        opt = LBFGS([p], **hyper)
        opt.step(closure_for(p))
        assert (opt.state[p]["n_iter"], opt.state[p]["func_evals"], len(calls)) == (iterations, evaluations,
                                                                                   evaluations), hyper


def test_the_loss_change_and_the_step_size_stop_the_loop():
    # g = w (any steps) but a loss that never changes: the loop ends after one iteration (two evaluations)
    p = Parameter(W0.copy())
    calls = []

    def flat_loss():
        calls.append(1)
        p.grad = p.data.copy()
        return 1.0

    opt = LBFGS([p], lr=0.1)
    opt.step(flat_loss)
    assert opt.state[p]["n_iter"] == 1 and len(calls) == 2
    # a loss that changes by 1 at every evaluation, but steps of lr = 1e-12 (max |step| <= tolerance_change):
    # one iteration again; with lr = 0.1 the loop runs its max_iter = 20 iterations
    for lr, iterations in ((1e-12, 1), (0.1, 20)):
        p = Parameter(W0.copy())
        calls.clear()

        def changing_loss():
            calls.append(1)
            p.grad = p.data.copy()
            return float(len(calls))

        opt = LBFGS([p], lr=lr)
        opt.step(changing_loss)
        assert opt.state[p]["n_iter"] == iterations, lr


def test_weight_decay_is_the_l2_term_of_the_loss_the_line_search_sees():
    # weight_decay 0.1 on f equals minimising f + 0.05 |w|^2 with a closure that adds it itself
    def with_penalty(W):
        value, grad = least_squares(W)
        return value + 0.5 * 0.1 * float(W.reshape(-1) @ W.reshape(-1)), grad + 0.1 * W

    hyper = {"line_search_fn": "strong_wolfe", "max_iter": 3, "history_size": 4}
    decayed, _ = run_ours(least_squares, W0, 5, weight_decay=0.1, **hyper)
    penalised, _ = run_ours(with_penalty, W0, 5, **hyper)
    np.testing.assert_allclose(decayed, penalised, rtol=1e-12, atol=1e-14)


def test_a_nan_gradient_from_the_closure_raises_and_leaves_the_weights():
    p = Parameter(W0.copy())
    opt = LBFGS([p], line_search_fn="strong_wolfe")
    calls = []

    def closure():
        calls.append(1)
        value, grad = least_squares(p.data)
        p.grad = grad if len(calls) < 2 else grad * np.nan       # the line search's first point is bad
        return value

    with pytest.raises(FloatingPointError, match="holds NaN or Inf"):
        opt.step(closure)
    np.testing.assert_array_equal(p.data, W0)


# ------------------------------------------------------------------------------ groups and state
def test_one_param_group_only():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    with pytest.raises(ValueError, match="LBFGS: one param group only"):
        LBFGS([{"params": [a]}, {"params": [b], "lr": 0.5}])
    opt = LBFGS([a])
    with pytest.raises(ValueError, match="one param group only"):
        opt.add_param_group({"params": [b]})


def two_parameters():
    rng = np.random.default_rng(7)
    return [Parameter(rng.standard_normal((3, 4)), name="layer.weight"), Parameter(rng.standard_normal(4))]


def quadratic_closure(params):
    def closure():
        for p in params:
            p.grad = 2.0 * p.data + 1.0
        return float(sum(np.sum(p.data ** 2 + p.data) for p in params))
    return closure


def test_state_dict_holds_the_state_once_and_a_resume_is_bit_identical():
    hyper = {"line_search_fn": "strong_wolfe", "max_iter": 2, "history_size": 3}
    a = two_parameters()
    opt_a = LBFGS(a, **hyper)
    for _ in range(3):
        opt_a.step(quadratic_closure(a))
    saved = copy.deepcopy(opt_a.state_dict())
    assert list(saved["state"]) == [0] and saved["state"][0]["old_dirs"].shape == (3, 16)
    b = two_parameters()
    for pa, pb in zip(a, b):
        pb.data[...] = pa.data
    opt_b = LBFGS(b, **hyper)
    opt_b.load_state_dict(saved)
    assert opt_b.state[b[0]] is opt_b.state[b[1]]
    for _ in range(3):
        opt_a.step(quadratic_closure(a))
        opt_b.step(quadratic_closure(b))
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert opt_a.state[a[0]]["n_iter"] == opt_b.state[b[0]]["n_iter"]


def test_a_state_under_another_parameter_or_of_another_size_is_refused():
    a = two_parameters()
    opt = LBFGS(a)
    opt.step(quadratic_closure(a))
    saved = opt.state_dict()
    moved = {**saved, "state": {1: saved["state"][0]}}
    fresh = LBFGS(two_parameters())
    with pytest.raises(ValueError, match=r"saved under parameter 0 only; this one has entries for \['1'\]"):
        fresh.load_state_dict(moved)
    assert fresh.state == {}
    small = LBFGS([Parameter(np.ones((3, 4)))])
    with pytest.raises(ValueError, match=r"state of parameter 0: 'd' has shape \(16,\), expected \(12,\)"):
        small.load_state_dict({**saved, "param_groups": [{**saved["param_groups"][0], "params": [0]}]})


def test_a_registered_name_and_a_float32_closure_run():
    p = Parameter(W0.astype(np.float32))
    opt = optim.create("lbfgs", [p], line_search_fn="strong_wolfe")

    def closure():
        value, grad = least_squares(p.data.astype(np.float64))
        p.grad = grad.astype(np.float32)
        return value

    for _ in range(3):
        opt.step(closure)
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))
    assert least_squares(p.data.astype(np.float64))[0] < least_squares(W0)[0] / 2
