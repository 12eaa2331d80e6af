"""The experiment layer and the teaching views, above ``minidl.train``.

Experiments, from the bottom up:

* ``specs``: row specs, the short strings that name one optimizer configuration;
* ``store``: the run store, one JSON record per run in ``OUT/runs/``, named by the hash of its
  configuration, written once;
* ``run``: one run, a pure function from a configuration (a dict) to a record (a dict);
* ``threads``, ``executors``: where runs train (this process, local worker processes, a Dask
  cluster), one interface for every command that runs many trainings;
* ``views`` (with ``article``): tables, CSV, JSON and figures drawn from records alone;
* ``compare``: the optimizer comparison; ``report``: the views of a store, no training.

Teaching views: ``functions2d`` (2-D test functions), ``trajectories`` (optimizer paths on
them), ``explain`` (every intermediate quantity of an update rule), ``lrfind`` (the
learning-rate range test, also as ``minidl.lab.lr_find``), ``plots`` (matplotlib figures from
plain data; it imports no other experiment module).

Imports point one way: core <- train <- lab <- cli, and inside lab from the list's top down.
Importing the package imports none of its modules; ``minidl.lab.lr_find`` loads ``lrfind``
when first named.
"""


def __getattr__(name):
    if name == "lr_find":
        from minidl.lab.lrfind import lr_find

        return lr_find
    raise AttributeError(f"module 'minidl.lab' has no attribute {name!r}")
