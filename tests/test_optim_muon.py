"""Muon where the optimizer table does not fit a matrix-wise rule that takes only 2-D parameters under
the pytorch convention: parity over 100 float64 steps on a (4, 3) matrix with torch.optim.Muon and
real Keras 3 (and Keras's AdamW path on a vector, and its choice of rule by name), the quantities
of the Newton-Schulz iteration by hand, the refusal of parameters that are not 2-D.  The
hand-computed runs and bad hyperparameters are in tests/optim_cases/muon.py; the state_dict round
trip and float32 of both conventions run in the optimizer table (its Spec gives the pytorch
convention two matrices).
"""
import inspect
import textwrap

import numpy as np
import pytest

from keras_testutil import keras64, keras_run  # noqa: F401
from minidl import optim
from minidl.optim.muon import Muon
from minidl.optim.trace import trace_update
from optim_cases.muon import CUBIC, SHORT_GRADS
from optim_testutil import parameter, problem, run_steps, torch64, torch_steps  # noqa: F401

RTOL = 1e-10
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


# ------------------------------------------------------------------ the frameworks
@pytest.fixture
def torch_muon64(torch64, monkeypatch):  # noqa: F811
    """torch.optim.Muon with its own Newton-Schulz iteration run in float64: the source of
    ``torch.optim._muon._zeropower_via_newtonschulz`` with its one ``grad.bfloat16()`` cast removed."""
    from torch.optim import _muon
    source = textwrap.dedent(inspect.getsource(_muon._zeropower_via_newtonschulz))
    assert source.count("grad.bfloat16()") == 1, "torch's Newton-Schulz iteration changed: revisit this fixture"
    namespace = {}
    exec(source.replace("grad.bfloat16()", "grad.clone()"), vars(_muon), namespace)   # noqa: S102
    monkeypatch.setattr(_muon, "_zeropower_via_newtonschulz", namespace["_zeropower_via_newtonschulz"])
    return torch64


@pytest.fixture
def keras_float64(keras64, monkeypatch):  # noqa: F811
    """Keras 3 computing in float64 throughout: on the torch backend its type promotion turns float64 into
    float32 (as JAX does without x64), and ``ops.norm`` of the iteration goes through it; here it keeps float64,
    as on TensorFlow."""
    from keras.src.backend.common import dtypes
    monkeypatch.setitem(dtypes.BIT64_TO_BIT32_DTYPE, "float64", "float64")
    return keras64


TORCH_RUNS = [{}, {"nesterov": False, "adjust_lr_fn": "match_rms_adamw", "lr": 0.02, "momentum": 0.9,
                   "weight_decay": 0.05},
              {"ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-5, "lr": 0.01}]


@pytest.mark.parametrize("shape", [(4, 3), (3, 4)])
@pytest.mark.parametrize("hyper", TORCH_RUNS)
def test_pytorch_convention_equals_torch(torch_muon64, shape, hyper):
    w0, grads = problem(21, shape=shape)
    ours, opt, p = run_steps("muon", grads, w0=w0, convention="pytorch", **hyper)
    theirs, their_state = torch_steps(torch_muon64.optim.Muon, w0, grads, **hyper)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=RTOL, atol=0)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], their_state["momentum_buffer"], rtol=RTOL, atol=1e-15)


def test_torch_in_bfloat16_takes_nearly_the_same_first_step(torch64):  # noqa: F811
    # torch's own Muon (bfloat16 inside the iteration, 8 bits of mantissa) against minidl's float64 rule
    w0, grads = problem(22, shape=(4, 3), steps=1)
    (ours,), _, _ = run_steps("muon", grads, w0=w0, convention="pytorch")
    (theirs,), _ = torch_steps(torch64.optim.Muon, w0, grads)
    step_ours, step_theirs = w0 * (1 - 0.001 * 0.1) - ours, w0 * (1 - 0.001 * 0.1) - theirs
    assert 1e-6 < np.abs(step_ours - step_theirs).max() / np.abs(step_ours).max() < 2e-2


KERAS_RUNS = [
    ({}, {}),
    ({"nesterov": False, "rms_rate": 0.5, "lr": 0.01, "weight_decay": 0.01, "momentum": 0.8},
     {"nesterov": False, "rms_rate": 0.5, "learning_rate": 0.01, "weight_decay": 0.01, "momentum": 0.8}),
    ({"rms_rate": False}, {"rms_rate": None}),
    ({"ns_steps": 3, "muon_a": 2.0, "muon_b": -1.5, "muon_c": 0.5}, {"ns_steps": 3, "muon_a": 2.0, "muon_b": -1.5,
                                                                        "muon_c": 0.5}),
]


@pytest.mark.parametrize("shape", [(4, 3), (5,)])
@pytest.mark.parametrize("ours, theirs", KERAS_RUNS)
def test_keras_convention_equals_keras(keras_float64, shape, ours, theirs):
    # (4, 3): Muon's rule; (5,): Keras's AdamW path (with adam_weight_decay = weight_decay, as Keras's defaults)
    w0, grads = problem(23, shape=shape)
    adam_wd = {"adam_weight_decay": theirs["weight_decay"]} if "weight_decay" in theirs else {}
    mine, _, _ = run_steps("muon", grads, w0=w0, convention="keras", **ours)
    theirs_run = keras_run(keras_float64, "Muon", w0, grads, **theirs, **adam_wd)
    np.testing.assert_allclose(np.array(mine), np.array(theirs_run), rtol=RTOL, atol=0)


def test_keras_chooses_the_rule_by_shape_and_name_as_keras_does(keras_float64):
    # a dense kernel takes Muon; an output kernel named in exclude_layers, an embedding table, a bias and a conv
    # kernel take AdamW: Keras's variables and minidl's parameters carry the same names
    keras = keras_float64
    rng = np.random.default_rng(24)
    shapes = {"dense_kernel": (4, 3), "output_dense_kernel": (3, 2), "embedding_table": (5, 3),
              "dense_bias": (3,), "conv_kernel": (2, 1, 3, 3)}
    w0 = {n: rng.standard_normal(s) for n, s in shapes.items()}
    grads = [{n: rng.standard_normal(s) for n, s in shapes.items()} for _ in range(30)]
    variables = [keras.Variable(w0[n], name=n, dtype="float64") for n in shapes]
    assert [v.path for v in variables] == list(shapes)
    theirs = keras.optimizers.Muon(learning_rate=0.01, exclude_layers=["output"])
    params = [parameter(w0[n], name=n) for n in shapes]
    ours = optim.Muon(params, lr=0.01, exclude_layers=["output"])
    for g in grads:
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g[n]), v) for n, v in zip(shapes, variables)])
        for n, p in zip(shapes, params):
            p.grad = g[n].copy()
        ours.step()
    for n, v, p in zip(shapes, variables, params):
        np.testing.assert_allclose(p.data, keras.ops.convert_to_numpy(v), rtol=RTOL, atol=0, err_msg=n)
    adamw = [n for n, p in zip(shapes, params) if "velocity" in ours.state[p]]
    assert adamw == ["output_dense_kernel", "embedding_table", "dense_bias", "conv_kernel"]


# ------------------------------------------------------------------ the Newton-Schulz iteration by hand
def test_the_newton_schulz_quantities_of_the_short_case():
    # tests/optim_cases/muon.py's short case, t=1 then t=2: ns_coefficients (1.5, -0.5, 0), one step;
    # t=1: X_0 = m / ||m|| = [[1.5, 0], [0, 2]] / 2.5 = [[0.6, 0], [0, 0.8]];  A = X X^T = [[0.36, 0], [0, 0.64]]
    #      B = -0.5 A + 0 * A A = [[-0.18, 0], [0, -0.32]];  X = 1.5 X + B X = [[0.792, 0], [0, 0.944]]
    # t=2: X_0 = [[0.75, 1], [0, 0]] / 1.25 = [[0.6, 0.8], [0, 0]];  A = [[1, 0], [0, 0]];  B = [[-0.5, 0], [0, 0]]
    #      X = [[0.9 - 0.3, 1.2 - 0.4], [0, 0]] = [[0.6, 0.8], [0, 0]]
    expected = {1: {"X_0": [[0.6, 0.0], [0.0, 0.8]], "A": [[0.36, 0.0], [0.0, 0.64]], "B": [[-0.18, 0.0], [0.0, -0.32]],
                    "X": [[0.792, 0.0], [0.0, 0.944]]},
                2: {"X_0": [[0.6, 0.8], [0.0, 0.0]], "A": [[1.0, 0.0], [0.0, 0.0]], "B": [[-0.5, 0.0], [0.0, 0.0]],
                    "X": [[0.6, 0.8], [0.0, 0.0]]}}
    p = parameter(np.eye(2))
    opt = Muon([p], convention="pytorch", lr=0.1, momentum=0.5, nesterov=False, ns_coefficients=CUBIC, ns_steps=1,
               weight_decay=0.0)
    group = opt.param_groups[0]
    for t, g in enumerate(SHORT_GRADS, start=1):
        local = trace_update(opt, p.data, np.array(g), opt.state_for(p, group), group)["newton_schulz"]
        assert (local["a"], local["b"], local["c"]) == CUBIC
        for name, value in expected[t].items():
            np.testing.assert_allclose(local[name], value, rtol=1e-15, atol=1e-16, err_msg=f"{name} at t={t}")
    doc = Muon.__doc__
    for symbol in ("X_0 = ", "A = X X^T", "B = b * A + c * A A", "X = a * X + B X"):
        assert symbol in doc


def test_a_tall_matrix_is_orthogonalized_through_its_transpose():
    # a 3x2 gradient is orthogonalized as its 2x3 transpose (the Gram matrix A is 2x2, the smaller side), and its
    # O is the transpose of the O of that transpose
    rng = np.random.default_rng(25)
    g = rng.standard_normal((3, 2))
    p, q = parameter(np.zeros((3, 2))), parameter(np.zeros((2, 3)))
    opt_p, opt_q = Muon([p], convention="pytorch"), Muon([q], convention="pytorch")
    traced_p = trace_update(opt_p, p.data, g, opt_p.state_for(p, opt_p.param_groups[0]), opt_p.param_groups[0])
    traced_q = trace_update(opt_q, q.data, g.T.copy(), opt_q.state_for(q, opt_q.param_groups[0]), opt_q.param_groups[0])
    assert traced_p["newton_schulz"]["A"].shape == (2, 2)
    np.testing.assert_allclose(traced_p["update"]["O"], traced_q["update"]["O"].T, rtol=1e-14)


# ------------------------------------------------------------------ the pytorch convention: 2-D only
@pytest.mark.parametrize("shape", [(32, 1, 3, 3), (32,), ()])
def test_pytorch_refuses_a_parameter_that_is_not_2d_naming_it(shape):
    kernel = parameter(np.zeros(shape), name="Conv2D(1->32).weight")
    with pytest.raises(ValueError, match=r"2-D parameters only.*'Conv2D\(1->32\).weight' has shape " + repr(shape)
                                         .replace("(", r"\(").replace(")", r"\)")):
        Muon([parameter(np.zeros((3, 4))), kernel], convention="pytorch")
    opt = Muon([parameter(np.zeros((3, 4)))], convention="pytorch")
    with pytest.raises(ValueError, match="2-D parameters only"):
        opt.add_param_group({"params": [kernel]})
    assert len(opt.param_groups) == 1
    assert "velocity" in _stepped(Muon([kernel]), kernel)        # keras: the AdamW rule


def _stepped(opt, p):
    p.grad = np.ones(p.shape)
    opt.step()
    return opt.state[p]


def test_pytorch_defaults_on_a_matrix():
    got = Muon([parameter(np.zeros((3, 4)))], convention="pytorch").defaults
    assert got == {"lr": 0.001, "momentum": 0.95, "nesterov": True, "ns_coefficients": (3.4445, -4.775, 2.0315),
                   "ns_steps": 5, "eps": 1e-7, "adjust_lr_fn": "original", "weight_decay": 0.1, "clipnorm": None,
                   "global_clipnorm": None, "clipvalue": None}
