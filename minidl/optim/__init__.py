"""minidl.optim: one optimizer per module, each running exactly the rule in its docstring.

    opt = optim.Adam(model.parameters(), lr=1e-3)         # convention="keras" by default
    opt = optim.create("adam", model.parameters(), convention="pytorch")
    optim.available()                                    # the registry's names
"""
from minidl.optim import clipping, registry, weight_decay
from minidl.optim.clipping import clip_grad_norm, clip_grad_value
from minidl.optim.optimizer import CONVENTIONS, Optimizer
from minidl.optim.validation import (check_bool, check_choice, check_int, check_lr, check_nonnegative, check_pair,
                                     check_positive, check_range)
from minidl.optim.sgd import SGD
from minidl.optim.adagrad import Adagrad
from minidl.optim.rmsprop import RMSprop
from minidl.optim.adadelta import Adadelta
from minidl.optim.rprop import Rprop
from minidl.optim.adam import Adam
from minidl.optim.adamw import AdamW
from minidl.optim.adamax import Adamax
from minidl.optim.nadam import Nadam
from minidl.optim.radam import RAdam
from minidl.optim.asgd import ASGD
from minidl.optim.lbfgs import LBFGS
from minidl.optim.lion import Lion
from minidl.optim.lamb import Lamb
from minidl.optim.ftrl import Ftrl
from minidl.optim.schedulefree import ScheduleFreeAdamW
from minidl.optim.adafactor import Adafactor
from minidl.optim.muon import Muon
from minidl.optim.adabelief import AdaBelief
from minidl.optim.lars import LARS
from minidl.optim.adopt import ADOPT
from minidl.optim.lookahead import Lookahead
from minidl.optim import averaging, schedules
from minidl.optim.averaging import AveragedParameters

#: name -> class; the names used by ``create`` and by ``minidl compare`` row specs
REGISTRY = registry.REGISTRY
REGISTRY.update({
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adadelta": Adadelta,
    "rprop": Rprop,
    "adam": Adam,
    "adamw": AdamW,
    "adamax": Adamax,
    "nadam": Nadam,
    "lion": Lion,
    "lamb": Lamb,
    "ftrl": Ftrl,
    "schedulefree_adamw": ScheduleFreeAdamW,
    "adafactor": Adafactor,
    "muon": Muon,
    "adabelief": AdaBelief,
    "lars": LARS,
    "adopt": ADOPT,
    "lookahead": Lookahead,
    "radam": RAdam,
    "asgd": ASGD,
    "lbfgs": LBFGS,
})


def available():
    """The registered optimizer names, sorted."""
    return sorted(REGISTRY)


def resolve(name):
    """The optimizer class ``name`` stands for: a registered name (``"adam"``), ``"module:Class"``
    (a class of your own, importable from PYTHONPATH or the current folder), or a name an
    installed package registers in the entry-point group ``minidl.optimizers``."""
    return registry.resolve(name)


def create(name, params, **hyperparameters) -> Optimizer:
    """Build an optimizer by name (see :func:`resolve`): ``create("adam", params, lr=1e-3)``."""
    return resolve(name)(params, **hyperparameters)


__all__ = ["Optimizer", "CONVENTIONS", "SGD", "Adagrad", "RMSprop", "Adadelta", "Rprop", "Adam", "AdamW",
           "Adamax", "Nadam", "RAdam", "ASGD", "LBFGS", "Lion", "Lamb", "Ftrl", "ScheduleFreeAdamW", "Adafactor", "Muon", "AdaBelief", "LARS", "ADOPT", "Lookahead", "schedules", "averaging", "AveragedParameters", "REGISTRY", "available", "create", "resolve",
           "clip_grad_norm", "clip_grad_value", "clipping", "weight_decay",
           "check_lr", "check_range", "check_positive", "check_nonnegative", "check_bool", "check_pair",
           "check_int", "check_choice"]
