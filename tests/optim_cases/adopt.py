"""ADOPT (Taniguchi et al. 2024, Algorithm 1): g_t normalised by the previous second moment v_{t-1},
then averaged into m_t; clipped at t^(1/4) (clip=False: the first version); the first call only sets v_0.
No torch or Keras counterpart: the values are worked out by hand from the algorithm box.

The table's test that the first step goes against the gradient cannot hold: ADOPT's first call
moves nothing (``the_first_call_only_sets_v0`` checks what it does instead)."""
import numpy as np

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem, run_steps

# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g = w_{t-1}, defaults lr 0.001, beta1 0.9, beta2 0.9999, eps 1e-6,
# clip.  Four calls, three updates.
# call 1: v_0 = g_0^2 = [1, 4];  w stays [1, -2]
# t=1: denom = max(sqrt(v_0), 1e-6) = [1, 2];  c = 1^(1/4) = 1;  u = clip([1, -2]/[1, 2], -1, 1) = [1, -1]
#      m = 0.1*u = [0.1, -0.1];  step = 0.001*m = [1e-4, -1e-4];  w = [0.9999, -1.9999]
#      v = 0.9999*[1, 4] + 0.0001*[1, 4] = [1, 4]
# t=2: g = [0.9999, -1.9999];  denom = [1, 2];  c = 2^(1/4) = 1.1892071150027211;  u = [0.9999, -0.99995] (not clipped)
#      m = 0.9*[0.1, -0.1] + 0.1*u = [0.18999, -0.189995];  w = [0.99971001, -1.999710005]
#      v = 0.9999*[1, 4] + 0.0001*g^2 = [0.999999980001, 3.999999960001]
# t=3: denom = [0.99999999000049995, 1.99999999000025];  c = 3^(1/4) = 1.3160740129524925
#      u = [0.99971001999660039, -0.99985500749915007];  m = [0.27096200199966004, -0.27098100074991501]
#      w = [0.99943904799800034, -1.9994390239992501];  v = [0.99999992201340932, 3.9999998440154096]
DEFAULTS = ((1.0, -2.0), (0.9999, -1.9999), (0.99971001, -1.999710005), (0.99943904799800034, -1.9994390239992501))
DEFAULTS_TRACE = {
    1: {"v": [1.0, 4.0]},                                         # v_0
    2: {"denom": [1.0, 2.0], "c": 1.0, "u": [1.0, -1.0], "m": [0.1, -0.1], "step": [1e-4, -1e-4], "v": [1.0, 4.0]},
    3: {"denom": [1.0, 2.0], "c": 1.1892071150027211, "u": [0.9999, -0.99995], "m": [0.18999, -0.189995],
        "step": [0.00018999, -0.000189995], "v": [0.999999980001, 3.999999960001]},
    4: {"denom": [0.99999999000049995, 1.99999999000025], "c": 1.3160740129524925,
        "u": [0.99971001999660039, -0.99985500749915007], "m": [0.27096200199966004, -0.27098100074991501],
        "v": [0.99999992201340932, 3.9999998440154096]},
}
DEFAULTS_STATE = {"step": 4, "exp_avg": [0.27096200199966004, -0.27098100074991501],
                  "exp_avg_sq": [0.99999992201340932, 3.9999998440154096]}

# Clipping at work: the defaults, g_0 = [0.5, 1], g_1 = [-1.5, 0.25], g_2 = [0.1, -0.3], g_3 = [2, 0.5]
# call 1: v_0 = [0.25, 1]
# t=1: denom = [0.5, 1];  g/denom = [-3, 0.25];  c = 1: u = [-1, 0.25] (clip=False: [-3, 0.25])
#      m = [-0.1, 0.025] ([-0.3, 0.025]);  w = [1.0001, -2.000025] ([1.0003, -2.000025]);  v = [0.2502, 0.99990625]
# t=2: denom = [0.500199960015992, 0.99995312390131569];  u = [0.19992004796802238, -0.30001406348884679] (no clip)
#      m = [-0.070007995203197762, -0.0075014063488846785] ([-0.25000799520319776, ...])
# t=3: denom = [0.50017594904193464, 0.99990762542096857];  g/denom = [3.9985929028193246, 0.50004619155644129]
#      c = 3^(1/4) = 1.3160740129524925: u = [1.3160740129524925, 0.50004619155644129] (clipped again)
#      m = [0.068600205612371261, 0.043253353441647919] ([0.17485209459905447, 0.043253353441647919])
GRADS = ((0.5, 1.0), (-1.5, 0.25), (0.1, -0.3), (2.0, 0.5))
CLIPPED = ((1.0, -2.0), (1.0001, -2.000025), (1.0001700079952032, -2.0000174985936511),
           (1.0001014077895908, -2.0000607519470928))
CLIPPED_TRACE = {2: {"c": 1.0, "u": [-1.0, 0.25], "m": [-0.1, 0.025]},
                 3: {"denom": [0.500199960015992, 0.99995312390131569], "u": [0.19992004796802238, -0.30001406348884679],
                     "m": [-0.070007995203197762, -0.0075014063488846785]},
                 4: {"c": 1.3160740129524925, "u": [1.3160740129524925, 0.50004619155644129],
                     "m": [0.068600205612371261, 0.043253353441647919]}}
UNCLIPPED = ((1.0, -2.0), (1.0003, -2.000025), (1.0005500079952032, -2.0000174985936511),
             (1.0003751559006041, -2.0000607519470928))
UNCLIPPED_TRACE = {2: {"u": [-3.0, 0.25], "m": [-0.3, 0.025]},
                   4: {"u": [3.9985929028193246, 0.50004619155644129], "m": [0.17485209459905447, 0.043253353441647919]}}

# Short, on paper: w0 = 1, g = 1, 7, 5, lr 0.1, beta1 0.5, beta2 0.5
# call 1: v_0 = 1^2 = 1;  w = 1
# t=1: denom = sqrt(1) = 1;  g/denom = 7;  c = 1^(1/4) = 1: u = 1;  m = 0.5*0 + 0.5*1 = 0.5;  step = 0.05;  w = 0.95
#      v = 0.5*1 + 0.5*49 = 25
# t=2: denom = sqrt(25) = 5;  u = 5/5 = 1 (c = 1.19);  m = 0.5*0.5 + 0.5*1 = 0.75;  step = 0.075;  w = 0.875
#      v = 0.5*25 + 0.5*25 = 25
# clip=False: u_1 = 7, m_1 = 3.5, w = 1 - 0.35 = 0.65;  u_2 = 1, m_2 = 1.75 + 0.5 = 2.25, w = 0.65 - 0.225 = 0.425
# decoupled weight decay 0.5: the base shrinks w by (1 - 0.1*0.5) = 0.95 at every call, the first too:
#      w = 0.95;  0.95*0.95 - 0.05 = 0.8525;  0.8525*0.95 - 0.075 = 0.734875
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.5}
SHORT_GRADS = ((1.0,), (7.0,), (5.0,))
SHORT_TRACE = {1: {"v": [1.0]},                                # v_0
               2: {"denom": [1.0], "c": 1.0, "u": [1.0], "m": [0.5], "step": [0.05], "v": [25.0]},
               3: {"denom": [5.0], "u": [1.0], "m": [0.75], "step": [0.075], "v": [25.0]}}

CASES = (
    Hand("defaults", "paper", DEFAULTS, trace=DEFAULTS_TRACE, state=DEFAULTS_STATE),
    Hand("clipped", "paper", CLIPPED, grads=GRADS, trace=CLIPPED_TRACE),
    Hand("unclipped", "paper", UNCLIPPED, {"clip": False}, grads=GRADS, trace=UNCLIPPED_TRACE),
    Hand("short", "paper", ((1.0,), (0.95,), (0.875,)), SHORT_HYPER, grads=SHORT_GRADS, w0=(1.0,), trace=SHORT_TRACE,
         state={"step": 3, "exp_avg": [0.75], "exp_avg_sq": [25.0]}),
    Hand("short, unclipped", "paper", ((1.0,), (0.65,), (0.425,)), {**SHORT_HYPER, "clip": False},
         grads=SHORT_GRADS, w0=(1.0,)),
    Hand("short, decoupled weight decay", "paper", ((0.95,), (0.8525,), (0.734875,)),
         {**SHORT_HYPER, "weight_decay": 0.5, "decoupled_weight_decay": True}, grads=SHORT_GRADS, w0=(1.0,)),
)


def the_first_call_only_sets_v0():
    w0, grads = problem(2, steps=2)
    (w1, w2), opt, p = run_steps("adopt", grads, w0=w0)
    np.testing.assert_array_equal(w1, w0)
    # the second call: m_1 = (1 - beta1) * clip(g_1 / max(|g_0|, eps), 1), against g_1 (0 where g_1 = 0)
    np.testing.assert_array_equal(np.sign(w0 - w2), np.sign(grads[1]))
    u = np.clip(grads[1] / np.maximum(np.abs(grads[0]), 1e-6), -1, 1)
    np.testing.assert_allclose(w2, w0 - 0.001 * 0.1 * u, rtol=1e-15, atol=1e-18)


def the_denominator_does_not_hold_the_current_gradient():
    # beta1 0 and no clipping: m_t = u_t = g_t / sqrt(v_{t-1}), so the step is linear in g_t: a gradient 1000 times
    # larger takes a step 1000 times longer (Adam's v_t holds g_t^2 too: its two steps would be about the same)
    steps = {}
    for g2 in (0.001, 1.0):
        weights, _, _ = run_steps("adopt", [[1.0], [1.0], [g2]], w0=(0.0,), clip=False, beta1=0.0, lr=1.0)
        steps[g2] = weights[2] - weights[1]
    np.testing.assert_allclose(steps[1.0], 1000 * steps[0.001], rtol=1e-12)
    np.testing.assert_allclose(steps[1.0], [-1.0], rtol=1e-12)          # v_1 = 0.9999*1 + 0.0001*1 = 1


def every_normalised_gradient_is_clipped_at_t_to_the_quarter():
    rng = np.random.default_rng(5)
    p = parameter(np.zeros(40))
    opt = optim.ADOPT([p], beta1=0.0, lr=1.0)          # beta1 0: m_t = u_t, the step is the clipped gradient
    for t in range(12):
        p.grad = rng.standard_normal(40) * (1e-4 if t == 0 else 1.0)   # tiny g_0: huge g_1 / sqrt(v_0)
        before = p.data.copy()
        opt.step()
        if t > 0:
            assert np.abs(before - p.data).max() <= t ** 0.25 * (1 + 1e-12)
    np.testing.assert_allclose(np.abs(before - p.data).max(), 11 ** 0.25, rtol=1e-12)   # the bound is reached


def decouple_is_the_packages_spelling_of_decoupled_weight_decay():
    p = parameter([1.0])
    assert optim.ADOPT([p], decouple=True).defaults["decoupled_weight_decay"] is True
    weights, _, _ = run_steps("adopt", SHORT_GRADS, w0=(1.0,), decouple=True, weight_decay=0.5, **SHORT_HYPER)
    np.testing.assert_allclose(np.ravel(weights), [0.95, 0.8525, 0.734875], rtol=1e-15)


SPEC = Spec(
    name="adopt",
    defaults={"paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.9999, "eps": 1e-6, "clip": True,
                        "decoupled_weight_decay": False, "weight_decay": 0.0}},
    variants=({}, {"clip": False}, {"decoupled_weight_decay": True}),
    hand=CASES,
    bad=(({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"), ({"beta2": 1.0}, "beta2"),
         ({"beta2": float("nan")}, "beta2"), ({"eps": 0.0}, "eps"), ({"lr": -0.001}, "lr"),
         ({"clip": "yes"}, "clip"), ({"clip": None, "clip_lambda": 0.25}, "clip_lambda"),
         ({"decoupled_weight_decay": 1}, "decoupled_weight_decay"), ({"weight_decay": -0.1}, "weight_decay"),
         ({"convention": "keras"}, "convention")),
    quadratic=({"lr": 0.1}, 1e-50),           # f = 8.7e-91 after 2000 steps
    # a step of about lr * m_t, m_t an average of gradients normalised to about 1: Rosenbrock wants a large lr
    # (lr 0.1: f = 0.065 after 3000 steps, 0.5: 2.9e-6, 1: 1.5e-11)
    rosenbrock=({"lr": 0.5}, 1e-5),
    overflow_state="exp_avg_sq",
    setup_calls=1,                            # the first call only sets v_0 = g_0^2 (Algorithm 1's line 1)
    properties=(the_first_call_only_sets_v0, the_denominator_does_not_hold_the_current_gradient,
                every_normalised_gradient_is_clipped_at_t_to_the_quarter,
                decouple_is_the_packages_spelling_of_decoupled_weight_decay),
)
