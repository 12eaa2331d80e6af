"""Row specs: parsing, values, aliases, and the errors that list what is accepted."""
import textwrap

import numpy as np
import pytest

from minidl import optim
from minidl.lab.specs import RowSpec, format_spec, parse_spec, parse_specs, split_spec
from minidl.tensor import Parameter


def test_plain_name_uses_the_default_convention():
    s = parse_spec("sgd")
    assert s == RowSpec(label="sgd", optimizer="sgd", hyper={}, convention="keras", batch=None)


def test_hyperparameters_are_typed():
    s = parse_spec("sgd:momentum=0.9,nesterov=true,lr=1")
    assert s.hyper == {"momentum": 0.9, "nesterov": True, "lr": 1.0}
    assert isinstance(s.hyper["lr"], float) and isinstance(s.hyper["nesterov"], bool)
    assert s.label == "sgd:momentum=0.9,nesterov=true,lr=1"


def test_convention_batch_and_label():
    s = parse_spec("sgd:convention=pytorch,dampening=0.1,momentum=0.5,batch=1,label=one")
    assert (s.convention, s.batch, s.label) == ("pytorch", 1, "one")
    assert s.hyper == {"dampening": 0.1, "momentum": 0.5}
    assert parse_spec("sgd:batch=full").batch == "full"
    assert parse_spec("adam", default_convention="pytorch").convention == "pytorch"


def test_gd_is_full_batch_sgd():
    s = parse_spec("gd")
    assert (s.optimizer, s.batch, s.label) == ("sgd", "full", "gd")
    assert parse_spec("gd:momentum=0.9").hyper == {"momentum": 0.9}


def test_common_options_are_accepted():
    s = parse_spec("sgd:weight_decay=0.01,clipnorm=1.0,clipvalue=none")
    assert s.hyper == {"weight_decay": 0.01, "clipnorm": 1.0, "clipvalue": None}


def test_issue_example_adadelta_paper():
    s = parse_spec("adadelta:convention=paper,lr=1.0")
    assert (s.optimizer, s.convention, s.hyper) == ("adadelta", "paper", {"lr": 1.0})


def test_missing_default_convention_falls_back_and_tuples_parse():
    # Rprop has no keras convention: the first of CONVENTIONS it has, pytorch
    assert "keras" not in optim.Rprop.DEFAULTS
    s = parse_spec("rprop")
    assert s.convention == "pytorch"
    assert parse_spec("rprop:etas=0.4/1.3").hyper == {"etas": (0.4, 1.3)}
    assert parse_spec("rprop:convention=paper,step_sizes=1e-5/10").hyper == {"step_sizes": (1e-5, 10.0)}
    with pytest.raises(ValueError, match=r"etas='0.4' is not 2 numbers joined by '/' \(e.g. etas=0.5/1.2\)"):
        parse_spec("rprop:etas=0.4")


def test_every_registered_optimizer_parses_and_builds():
    for name in optim.available():
        spec = parse_spec(name)
        assert spec.optimizer == name and spec.convention in optim.REGISTRY[name].DEFAULTS


@pytest.mark.parametrize("text, words", [
    ("adamm", ["unknown optimizer 'adamm'", "sgd", "gd"]),
    ("sgd:beta1=0.9", ["no hyperparameter 'beta1'", "momentum", "nesterov", "weight_decay", "batch"]),
    ("sgd:dampening=0.1", ["no hyperparameter 'dampening'", "keras"]),  # pytorch-only option
    ("sgd:momentum=fast", ["momentum='fast' is not a number"]),
    ("sgd:nesterov=1", ["not a bool"]),
    ("sgd:momentum=-1", ["momentum", "-1"]),  # the optimizer's own validation, run at parse time
    ("sgd:convention=tf", ["no convention 'tf'", "keras", "pytorch", "paper"]),
    ("sgd:batch=0", ["batch", "positive integer or 'full'"]),
    ("sgd:momentum", ["is not KEY=VALUE"]),
    ("sgd:lr=0.1,lr=0.2", ["given twice"]),
    ("", ["expected a string"]),
])
def test_bad_specs_say_what_is_accepted(text, words):
    with pytest.raises(ValueError) as info:
        parse_spec(text)
    for w in words:
        assert w in str(info.value)


def test_duplicate_labels_are_refused():
    with pytest.raises(ValueError, match="appears twice"):
        parse_specs(["sgd", "sgd"])
    assert len(parse_specs(["sgd", "sgd:label=other"])) == 2


def test_format_spec_round_trips():
    s = parse_spec("sgd:momentum=0.9,batch=32")
    again = parse_spec(format_spec(s))
    assert (again.optimizer, again.hyper, again.convention, again.batch) == (s.optimizer, s.hyper, s.convention, 32)


def test_create_builds_the_optimizer():
    import numpy as np

    from minidl import Parameter

    p = Parameter(np.array([1.0, -2.0]))
    opt = parse_spec("sgd:momentum=0.9,lr=0.1").create([p])
    assert isinstance(opt, optim.SGD) and opt.param_groups[0]["momentum"] == 0.9


# ------------------------------------------------------------------ values of every kind
def test_string_values_and_tuples_of_names():
    s = parse_spec("lbfgs:line_search_fn=strong_wolfe")
    assert s.hyper == {"line_search_fn": "strong_wolfe"} and s.convention == "pytorch"
    assert parse_spec("lbfgs:line_search_fn=none").hyper == {"line_search_fn": None}
    with pytest.raises(ValueError, match="line_search_fn.*'bogus'.*strong_wolfe"):
        parse_spec("lbfgs:line_search_fn=bogus")
    assert parse_spec("muon:exclude_layers=embedding/head").hyper == {"exclude_layers": ("embedding", "head")}
    assert parse_spec("muon:ns_coefficients=3/-4/2").hyper == {"ns_coefficients": (3.0, -4.0, 2.0)}


def test_lookahead_takes_its_inner_optimizers_hyperparameters():
    s = parse_spec("lookahead:inner=sgd,momentum=0.9,inner_nesterov=true,k=3,lr=0.1")
    assert s.hyper == {"inner": "sgd", "momentum": 0.9, "inner_nesterov": True, "k": 3, "lr": 0.1}
    opt = s.create([Parameter(np.zeros(2))])
    assert isinstance(opt.inner, optim.SGD) and opt.inner.defaults["momentum"] == 0.9
    assert opt.inner.defaults["nesterov"] is True and opt.param_groups[0]["lookahead_k"] == 3
    # ASGD's alpha is inner_alpha; alpha is Lookahead's own
    s = parse_spec("lookahead:inner=asgd,inner_alpha=0.5,alpha=0.8")
    opt = s.create([Parameter(np.zeros(2))])
    assert opt.inner.defaults["alpha"] == 0.5 and opt.param_groups[0]["lookahead_alpha"] == 0.8
    # the inner optimizer's names are checked against the inner optimizer given, and typed
    with pytest.raises(ValueError, match="no hyperparameter 'momentum'.*inner_beta1"):
        parse_spec("lookahead:momentum=0.9")                   # inner is Adam by default
    with pytest.raises(ValueError, match="inner_lr='fast' is not a number"):
        parse_spec("lookahead:inner_lr=fast")
    with pytest.raises(ValueError, match="Invalid inner: unknown optimizer 'adamm'"):
        parse_spec("lookahead:inner=adamm")
    with pytest.raises(ValueError, match=r"Invalid inner_convention: .keras. \(Rprop has paper, pytorch, or auto\)"):
        parse_spec("lookahead:inner=rprop,inner_convention=keras")
    with pytest.raises(ValueError, match="given twice"):
        parse_spec("lookahead:inner=sgd,lr=0.1,inner_lr=0.2")


def test_matrix_only_optimizer_is_probed_on_a_matrix():
    s = parse_spec("muon:convention=pytorch")
    assert (s.optimizer, s.convention) == ("muon", "pytorch")
    parse_spec("muon:convention=pytorch,adjust_lr_fn=match_rms_adamw")
    # a bad value is still refused, with the message about the value (not about the shape)
    with pytest.raises(ValueError) as info:
        parse_spec("muon:convention=pytorch,lr=-1")
    assert "lr" in str(info.value) and "2-D" not in str(info.value)


# ------------------------------------------------------------------ a class of one's own
USER_MODULE = textwrap.dedent('''
    from minidl import backend as B
    from minidl.optim import Optimizer, check_positive

    class SignSGD(Optimizer):
        """w_t = w_{t-1} - lr * sign(g_t)"""
        DEFAULTS = {"paper": {"lr": 0.01, "beta": 0.0}}

        def validate(self, group):
            check_positive(group["lr"], "lr")

        def update(self, w, g, state, group):
            w -= group["lr"] * B.get_array_module(w).sign(g)

    class Broken(Optimizer):
        DEFAULTS = {"paper": {"lr": 0.01}}

        def validate(self, group):
            raise KeyError("boom")

    class NoDefaults(Optimizer):
        pass

    NOT_A_CLASS = 3

    class NotAnOptimizer:
        pass
''')


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = f"spec_user_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_module_class_specs(user_module):
    s = parse_spec(f"{user_module}:SignSGD")
    assert (s.optimizer, s.convention, s.hyper, s.label) == (f"{user_module}:SignSGD", "paper", {},
                                                             f"{user_module}:SignSGD")
    s = parse_spec(f"{user_module}:SignSGD:lr=0.5,beta=0.25,batch=8,label=mine")
    assert s.hyper == {"lr": 0.5, "beta": 0.25} and (s.batch, s.label) == (8, "mine")
    p = Parameter(np.array([1.0, -2.0]))
    opt = s.create([p])
    p.grad = np.array([3.0, 4.0])
    opt.step()
    np.testing.assert_array_equal(p.data, [0.5, -2.5])
    assert s.accepted() == {"lr": 0.01, "beta": 0.0, "weight_decay": 0.0, "clipnorm": None,
                            "global_clipnorm": None, "clipvalue": None}
    # the canonical text keeps the module and reads back to the same optimizer
    again = parse_spec(format_spec(s))
    assert (again.optimizer, again.hyper, again.convention, again.batch) == (s.optimizer, s.hyper, "paper", 8)
    # as Lookahead's inner optimizer: the value holds a colon
    s = parse_spec(f"lookahead:inner={user_module}:SignSGD,beta=0.5,inner_lr=0.1")
    opt = s.create([Parameter(np.zeros(2))])
    assert type(opt.inner).__name__ == "SignSGD" and opt.inner.defaults["lr"] == 0.1


def test_module_class_spec_survives_a_run_configuration(user_module):
    """The optimizer's name in a run's configuration is the class path, and the run's own
    code (lab/run.create_optimizer) builds the user's class from it."""
    from minidl.lab.run import create_optimizer, resolved_optimizer

    resolved = resolved_optimizer(parse_spec(f"{user_module}:SignSGD:lr=0.5"))
    assert resolved["name"] == f"{user_module}:SignSGD" and resolved["hyper"]["lr"] == 0.5
    opt = create_optimizer(resolved, [Parameter(np.zeros(2))])
    assert type(opt).__name__ == "SignSGD" and opt.defaults["lr"] == 0.5


@pytest.mark.parametrize("text, words", [
    ("no_such_module_xyz:SignSGD", ["no module named 'no_such_module_xyz'", "PYTHONPATH"]),
    ("no_such_module_xyz:SignSGD:lr=1", ["no module named 'no_such_module_xyz'"]),
    ("{m}:Missing", ["has no 'Missing'"]),
    ("{m}:NOT_A_CLASS", ["not a subclass of minidl.optim.Optimizer"]),
    ("{m}:NotAnOptimizer", ["not a subclass of minidl.optim.Optimizer"]),
    ("{m}:NoDefaults", ["NoDefaults.DEFAULTS must map a convention"]),
    ("{m}:Broken", ["building it raised KeyError: 'boom'"]),
    ("{m}:SignSGD:lr=-1", ["lr", "-1"]),
    ("{m}:SignSGD:momentum=0.9", ["SignSGD (paper convention) has no hyperparameter 'momentum'", "beta"]),
    ("{m}:SignSGD:convention=keras", ["SignSGD has no convention 'keras'; accepted: paper"]),
    ("{m}:SignSGD:lr", ["'lr' is not KEY=VALUE"]),
])
def test_bad_module_class_specs_are_one_line(user_module, text, words):
    with pytest.raises(ValueError) as info:
        parse_spec(text.format(m=user_module))
    message = str(info.value)
    assert "\n" not in message and message.startswith("row spec ")
    for w in words:
        assert w in message, message


def test_how_the_colons_are_read(user_module):
    assert split_spec("adam") == ("adam", "")
    assert split_spec("adam:lr=0.1") == ("adam", "lr=0.1")
    assert split_spec("sgd:momentum") == ("sgd", "momentum")            # a registered name: options
    assert split_spec("mod:Cls") == ("mod:Cls", "")
    assert split_spec("pkg.mod:Cls:lr=1,beta=2") == ("pkg.mod:Cls", "lr=1,beta=2")
    assert split_spec("lookahead:inner=mod:Cls,k=2") == ("lookahead", "inner=mod:Cls,k=2")
    assert split_spec("mod:lr=1") == ("mod", "lr=1")                     # '=' before the second colon
    with pytest.raises(ValueError, match="unknown optimizer 'mod'"):
        parse_spec("mod:lr=1")


def test_framework_spellings_under_their_convention():
    keras = parse_spec("adam:learning_rate=0.01,beta_1=0.8,epsilon=1e-6")
    assert keras.hyper == {"lr": 0.01, "beta1": 0.8, "eps": 1e-6}
    torch = parse_spec("adam:convention=pytorch,betas=0.8/0.9")
    assert torch.hyper == {"beta1": 0.8, "beta2": 0.9}
    with pytest.raises(ValueError, match="lr is given twice"):
        parse_spec("adam:lr=0.1,learning_rate=0.01")
    with pytest.raises(ValueError, match="betas expected 2 values"):
        parse_spec("adam:convention=pytorch,betas=0.8")
    with pytest.raises(ValueError, match="no hyperparameter 'learning_rate'"):
        parse_spec("adam:convention=pytorch,learning_rate=0.1")      # Keras's name, not torch's
