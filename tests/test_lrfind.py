"""The learning-rate range test (minidl.lab.lrfind): its schedule and smoothing by hand, its
suggestion near a known good lr on a quadratic, its stop on divergence, and that it changes nothing."""
import math

import numpy as np
import pytest

from minidl import models, nn, optim
from minidl.lab import lrfind
from minidl.tensor import Parameter


class Quadratic(nn.Module):
    """f(w) = 0.5 * c * |w|^2 whatever the batch: SGD's best lr is 1 / c, it diverges above 2 / c."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.w = Parameter(np.ones(10))

    def forward(self, x):
        return self.w.reshape(1, 10)


def _loss(c):
    return lambda logits, y: (logits * logits).sum() * (0.5 * c)


DATA = (np.zeros((64, 1, 2, 2), np.uint8), np.zeros(64, np.int64))


def test_schedule_and_smoothing_by_hand():
    lrs = lrfind.schedule(1e-3, 10.0, 5)          # 1e-3 * 1e4^(i/4): 1e-3, 1e-2, 1e-1, 1, 10
    np.testing.assert_allclose(lrs, [1e-3, 1e-2, 1e-1, 1.0, 10.0], rtol=1e-12)
    # beta 0.5: avg = 0.5 * 2 = 1 -> 1 / 0.5 = 2; avg = 0.5 + 0.5 * 4 = 2.5 -> 2.5 / 0.75
    np.testing.assert_allclose(lrfind.smooth([2.0, 4.0], beta=0.5), [2.0, 2.5 / 0.75], rtol=1e-15)
    # slopes against log lr: the steepest fall is between the second and third points
    assert lrfind.steepest([1.0, 10.0, 100.0, 1000.0], [5.0, 4.0, 1.0, 0.9]) == 10.0
    # the longest decreasing run ends at index 5 with length 6; as fastai counts, start = 5 - 6 = -1,
    # (5 - (-1)) / 3 = 2, index -1 + 2 + int(2 / 2) = 2: the lr 3
    assert lrfind.valley([1, 2, 3, 4, 5, 6, 7], [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 4.5]) == 3
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lrfind.schedule(1.0, 0.1, 10)
    with pytest.raises(ValueError, match="num_steps"):
        lrfind.schedule(1e-7, 1.0, 2)


def _valley_by_pairs(lrs, smoothed):
    """fastai's valley as fastai writes it, comparing every pair (the reference for the O(n log n) one)."""
    n = len(smoothed)
    run, best_end = [1] * n, 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
        if run[i] > run[best_end]:
            best_end = i
    start = best_end - run[best_end]
    third = (best_end - start) / 3
    return lrs[max(0, start + int(third) + int(third / 2))]


def test_valley_equals_fastais_pairwise_search():
    rng = np.random.default_rng(0)
    for n in (2, 3, 7, 40, 200):
        for _ in range(25):
            values = list(rng.integers(0, 6, n).astype(float)) if n < 50 else list(np.cumsum(rng.normal(0, 1, n)))
            lrs = list(range(1, n + 1))
            assert lrfind.valley(lrs, values) == _valley_by_pairs(lrs, values), values


def test_steepest_looks_only_before_the_lowest_loss():
    # the loss falls to 1.0 at lr 100, jumps to 9 and falls back fast (a recovery at a rate far
    # too high): the steepest fall before the lowest point is the suggestion, not the recovery's
    lrs = [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert lrfind.steepest(lrs, [3.0, 2.0, 1.0, 9.0, 2.5]) == 1.0
    assert lrfind.steepest(lrs, [1.0, 2.0, 3.0, 4.0, 5.0]) is None        # it never fell
    assert lrfind.steepest([], []) is None


def test_the_sweeps_smoothing_is_smooth():
    model = Quadratic(1.0)
    result = lrfind.lr_find(model, optim.SGD(model.parameters()), DATA, loss=_loss(1.0), batch_size=8,
                            num_steps=30)
    np.testing.assert_allclose(result.smoothed, lrfind.smooth(result.losses), rtol=1e-15)


def test_a_curve_that_runs_away_does_not_flatten_the_others():
    flat = lrfind.LRFindResult(lrs=[1e-3, 1e-2, 1e-1], smoothed=[2.0, 1.0, 0.5])
    away = lrfind.LRFindResult(lrs=[1e-3, 1e-2, 1e-1], smoothed=[3.0, 0.2, 12000.0])
    assert lrfind.y_limit({"a": flat, "b": away}) == 1.25 * 3.0          # the highest point before a lowest
    assert lrfind.y_limit({"a": flat}) is None                            # nothing runs away: matplotlib's own
    assert lrfind.y_limit({}) is None


def test_the_saved_curves_are_json_even_where_a_loss_overflowed(tmp_path):
    import json

    r = lrfind.LRFindResult(lrs=[0.1, 1.0], losses=[2.0, float("inf")], smoothed=[2.0, float("inf")],
                            stopped="x", suggestions={"steepest": None, "valley": 0.1})
    lrfind.save({"sgd": r}, tmp_path / "lrfind.json", command="minidl lrfind")
    saved = json.loads((tmp_path / "lrfind.json").read_text())
    assert saved["optimizers"]["sgd"]["losses"] == [2.0, None] and saved["command"] == "minidl lrfind"


def test_lr_find_is_in_the_package():
    import minidl.lab

    assert minidl.lab.lr_find is lrfind.lr_find


def test_the_number_of_steps_is_capped(capsys):
    from minidl import cli

    with pytest.raises(ValueError, match="100,000"):
        lrfind.schedule(1e-7, 10.0, lrfind.MAX_STEPS + 1)
    assert cli.main(["lrfind", "--dataset", "synthetic", "--num-steps", "1000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--num-steps" in err and "100,000" in err and "1,000,000" in err


@pytest.mark.parametrize("c", [1.0, 10.0])
def test_the_steepest_suggestion_is_within_ten_times_the_best_lr_of_a_quadratic(c):
    model = Quadratic(c)
    opt = optim.SGD(model.parameters())
    result = lrfind.lr_find(model, opt, DATA, loss=_loss(c), batch_size=8)
    best = 1.0 / c
    assert best / 10 <= result.suggestions["steepest"] <= best * 10, result.suggestions


def test_a_diverging_sweep_stops_and_says_why():
    model = Quadratic(100.0)
    result = lrfind.lr_find(model, optim.SGD(model.parameters()), DATA, loss=_loss(100.0), batch_size=8,
                            start_lr=1e-4, end_lr=10.0, num_steps=60)
    assert len(result.lrs) < 60 and "passed 4 x its lowest" in result.stopped
    assert result.lrs[-1] > 2 / 100.0                       # it ran past where SGD diverges


def test_lr_find_changes_nothing():
    model = models.mnist_cnn(seed=0)
    opt = optim.Adam(model.parameters(), lr=0.003)
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, (32, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, 32))
    before = [p.data.copy() for p in model.parameters()]
    drop_state = model[3].get_rng_state()
    result = lrfind.lr_find(model, opt, data, num_steps=8, batch_size=16)
    assert len(result.losses) == 8 and all(math.isfinite(v) for v in result.losses)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))
    assert opt.state == {} and opt.param_groups[0]["lr"] == 0.003
    assert model[3].get_rng_state() == drop_state


def test_the_figure_has_one_line_per_optimizer_and_its_suggestions(tmp_path):
    import matplotlib.image

    results = {}
    for name in ("sgd", "adam"):
        model = Quadratic(1.0)
        results[name] = lrfind.lr_find(model, optim.create(name, model.parameters()), DATA, loss=_loss(1.0),
                                       batch_size=8, num_steps=40)
    path = tmp_path / "lrfind.png"
    lrfind.plot(results, path)
    assert matplotlib.image.imread(str(path)).shape[1] > 800
