"""Row specs: parsing, values, aliases, and the errors that list what is accepted."""
import pytest

from minidl import optim
from minidl.lab.specs import RowSpec, format_spec, parse_spec, parse_specs


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


@pytest.mark.skipif("adadelta" not in optim.REGISTRY, reason="adadelta not registered yet")
def test_issue_example_adadelta_paper():
    s = parse_spec("adadelta:convention=paper,lr=1.0")
    assert (s.optimizer, s.convention, s.hyper) == ("adadelta", "paper", {"lr": 1.0})


@pytest.mark.skipif("rprop" not in optim.REGISTRY, reason="rprop not registered yet")
def test_missing_default_convention_falls_back_and_tuples_parse():
    cls = optim.REGISTRY["rprop"]
    s = parse_spec("rprop")
    assert s.convention in cls.DEFAULTS
    if "etas" in cls.DEFAULTS[s.convention]:
        assert parse_spec("rprop:etas=0.4/1.3").hyper == {"etas": (0.4, 1.3)}


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
