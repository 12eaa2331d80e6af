"""The table that drives tests/test_optimizers.py: one entry (``optim_testutil.Spec``) per
registered optimizer.

Each optimizer's module here (``sgd.py``, ``adam.py``, ...) holds its data: the runs worked
out by hand (the 17-digit ones, from 40-digit Decimal arithmetic, and a short one per
convention that a student can redo on paper), its hyperparameter variants, its
torch.optim counterpart, the independent transcriptions of Keras 3 where they exist, the
settings under which it converges, the hyperparameters it must refuse, and the properties
of its own rule.  ``test_optimizers.py`` runs every entry through the same tests.
"""
from optim_cases import adadelta, adafactor, adagrad, adam, adamax, adamw, asgd, ftrl, lamb, lbfgs, lion, muon, nadam, radam, rmsprop, rprop, schedulefree, sgd
from optim_cases import adabelief, adopt, lars, lookahead

TABLE = {m.SPEC.name: m.SPEC for m in (adabelief, lars, adopt, lookahead,
                                       sgd, adagrad, rmsprop, adadelta, rprop, adam, adamw, adamax, nadam, lion, lamb, ftrl,
                                       schedulefree,
                                       radam, adafactor, asgd, muon, lbfgs)}
