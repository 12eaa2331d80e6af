"""The experiment layer and the teaching views, above ``minidl.train``.

Experiments: ``specs`` (optimizer row specs), ``compare`` (the optimizer comparison).
Teaching views: ``functions2d`` (2-D test functions), ``trajectories`` (optimizer paths on
them), ``explain`` (every intermediate quantity of an update rule), ``plots`` (figures).

Imports point one way: core <- train <- lab <- cli.
"""
