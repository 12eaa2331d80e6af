"""Trajectories: the optimizers that should reach the minimum of the quadratic and of Rosenbrock do."""
import numpy as np
import pytest

from minidl import backend as B
from minidl import optim
from minidl.lab import trajectories as T
from minidl.lab.specs import parse_spec


def _specs(names):
    present = [n for n in names if n.partition(":")[0] in optim.REGISTRY]
    return [parse_spec(n) for n in present]


def test_every_default_optimizer_reaches_the_quadratic_minimum():
    # the ill-conditioned quadratic (curvatures 1 and 100), DEFAULT_STEPS steps at the stated rates
    results = T.run_all(["quadratic"], T.default_specs(), steps=T.DEFAULT_STEPS)
    for tr in results["quadratic"]:
        assert tr.diverged_at is None, tr.legend
        assert tr.distance_to_minimum() < 0.05, (tr.legend, tr.points[-1])


# In 2000 steps from (-1.2, 1) at the stated rates these get within 0.05 of (1, 1);
# plain SGD, Adagrad, RMSprop and AdaDelta are still in the valley (docs/tour.md says so).
ROSENBROCK_REACHERS = ["sgd:momentum=0.9", "rprop", "adam", "adamax"]


@pytest.mark.parametrize("spec", _specs(ROSENBROCK_REACHERS), ids=lambda s: s.label)
def test_rosenbrock_minimum_is_reached(spec):
    tr = T.run_trajectory("rosenbrock", spec, steps=2000)
    assert tr.diverged_at is None
    assert tr.distance_to_minimum() < 0.05, (tr.legend, tr.points[-1])
    assert tr.losses[-1] < 1e-2 < tr.losses[0]


def test_same_start_and_shapes():
    specs = _specs(["sgd", "sgd:momentum=0.9", "adam"])
    results = T.run_all(["rosenbrock", "beale"], specs, steps=20, start=(0.5, 0.5))
    for trs in results.values():
        for tr in trs:
            assert tr.points.shape == (21, 2) and tr.losses.shape == (21,)
            np.testing.assert_array_equal(tr.points[0], [0.5, 0.5])


def test_path_is_what_step_does_by_hand():
    # SGD lr 0.015 on the quadratic from (-4, 1): x <- x - 0.015 x, y <- y - 0.015 * 100 y
    tr = T.run_trajectory("quadratic", parse_spec("sgd"), steps=2)
    np.testing.assert_allclose(tr.points[1], [-4 * 0.985, 1 - 1.5])
    np.testing.assert_allclose(tr.points[2], [-4 * 0.985 ** 2, (1 - 1.5) * (1 - 1.5)])
    assert tr.lr == T.LEARNING_RATES["sgd"]["quadratic"]


def test_spec_lr_overrides_the_table_and_legend_states_it():
    tr = T.run_trajectory("quadratic", parse_spec("sgd:lr=0.001"), steps=3)
    assert tr.lr == 0.001 and "lr=0.001" in tr.legend
    assert T.default_lr("sgd", "saddle") == T.LEARNING_RATES["sgd"]["*"]
    assert T.default_lr("sgd", "rosenbrock", "sgd:momentum=0.9") == T.LEARNING_RATES["sgd:momentum=0.9"]["rosenbrock"]


def test_divergence_stops_the_run():
    tr = T.run_trajectory("quadratic", parse_spec("sgd:lr=0.5"), steps=200)  # 0.5 * 100 > 2: unstable in y
    assert tr.diverged_at is not None and tr.steps < 200
    assert np.isfinite(tr.points).all()
    assert "diverged" in tr.legend


def test_noise_is_seeded():
    a = T.run_trajectory("quadratic", parse_spec("sgd"), steps=10, noise=0.5, seed=3)
    b = T.run_trajectory("quadratic", parse_spec("sgd"), steps=10, noise=0.5, seed=3)
    c = T.run_trajectory("quadratic", parse_spec("sgd"), steps=10)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, c.points)


def test_bad_input():
    with pytest.raises(ValueError, match="batch=1"):
        T.run_trajectory("quadratic", parse_spec("sgd:batch=1"), steps=3)
    with pytest.raises(ValueError, match="start"):
        T.run_trajectory("quadratic", parse_spec("sgd"), steps=3, start=(1.0,))
    with pytest.raises(ValueError, match="steps"):
        T.run_trajectory("quadratic", parse_spec("sgd"), steps=-1)
    with pytest.raises(ValueError, match="unknown test function"):
        T.run_all(["nope"], [parse_spec("sgd")])


def test_runs_on_every_backend(backend_name):
    tr = T.run_trajectory("rosenbrock", parse_spec("sgd:momentum=0.9"), steps=50)
    ref = None
    with B.use_backend("numpy"):
        ref = T.run_trajectory("rosenbrock", parse_spec("sgd:momentum=0.9"), steps=50)
    np.testing.assert_allclose(tr.points, ref.points, rtol=1e-12)


def test_summary_table():
    results = T.run_all(["quadratic", "saddle"], _specs(["sgd"]), steps=5)
    text = T.format_summary(results)
    assert "quadratic" in text and "saddle" in text and "|w - w*|" in text
    assert len(T.summary_rows(results)) == 2


def test_summary_columns_fit_long_labels():
    from minidl.lab.specs import parse_specs

    specs = parse_specs(["sgd", "adafactor:convention=pytorch,label=a label longer than the old column"])
    text = T.format_summary(T.run_all(["quadratic"], specs, steps=3))
    lines = text.splitlines()
    starts = {line.index(" 3 ") for line in lines[2:]}            # the steps column, in every row
    assert len(starts) == 1 and "a label longer than the old column" in text


# ------------------------------------------------------------------ the cap on steps
def test_steps_are_capped_with_the_reason_and_the_value():
    with pytest.raises(ValueError, match=r"steps: at most 1,000,000 steps \(each step stores a point of the "
                                         r"path in memory\), got 1000001"):
        T.run_trajectory("quadratic", parse_spec("sgd"), steps=1_000_001)
    with pytest.raises(ValueError, match=r"steps: expected at least 1 step, got 0"):
        T.run_trajectory("quadratic", parse_spec("sgd"), steps=0)
    with pytest.raises(ValueError, match=r"steps: expected a whole number of steps, got 2\.5"):
        T.run_trajectory("quadratic", parse_spec("sgd"), steps=2.5)
    assert T.check_steps(1_000_000) == T.MAX_STEPS == 1_000_000       # the cap itself is allowed
    assert T.run_trajectory("quadratic", parse_spec("sgd"), steps=1).steps == 1


@pytest.mark.parametrize("value, says", [("1000001", "at most 1,000,000 steps"),
                                         ("0", "expected at least 1 step, got 0")])
def test_cli_steps_out_of_range_is_one_line_exit_2(tmp_path, capsys, value, says):
    from minidl.cli import main

    rc = main(["trajectories", "--functions", "quadratic", "--optimizers", "sgd", "--steps", value,
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("minidl trajectories: error: --steps: ") and says in err, err
    assert not (tmp_path / "o").exists()                               # refused before anything ran


# ------------------------------------------------------------------ which optimizers, at which rates
def test_the_default_is_the_articles_six():
    assert [s.label for s in T.default_specs()] == ["sgd", "sgd:momentum=0.9", "adagrad", "rmsprop",
                                                    "adadelta", "adam"]


def test_all_is_the_six_then_every_other_registered_optimizer():
    names = T.all_optimizers()
    assert names[:6] == list(T.DEFAULT_OPTIMIZERS)
    assert set(names) == set(optim.REGISTRY) | {"sgd:momentum=0.9"} and len(names) == len(set(names))
    assert T.expand_all(["adam:lr=0.5", "all"]) == ["adam:lr=0.5"] + names


@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_every_registered_optimizer_has_a_learning_rate_on_every_function(name):
    from minidl.lab import functions2d

    table = T.LEARNING_RATES[name]
    assert "*" in table and set(table) - {"*"} <= set(functions2d.FUNCTIONS), table
    for function in functions2d.FUNCTIONS:
        assert T.default_lr(name, function) == table.get(function, table["*"]) > 0


def test_the_table_names_only_registered_optimizers():
    assert {key.partition(":")[0] for key in T.LEARNING_RATES} <= set(optim.REGISTRY)


def test_every_optimizer_at_its_rate_makes_progress_on_every_function():
    # DEFAULT_STEPS steps at the table's rates: no divergence where there is a minimum, the loss
    # at least halved (Rastrigin: into the local minimum next to the start), the saddle left
    results = T.run_all(["quadratic", "rosenbrock", "beale", "rastrigin", "sphere", "saddle"],
                        T.default_specs(everything=True))
    for name, trajs in results.items():
        for tr in trajs:
            where = (name, tr.legend, tr.points[-1])
            if name == "saddle":
                assert abs(tr.points[-1][1]) > 1.5, where
                continue
            assert tr.diverged_at is None and tr.steps == T.DEFAULT_STEPS, where
            assert tr.losses[-1] < tr.losses[0] / 2, where
    assert {tr.label for tr in results["sphere"]} == set(T.all_optimizers())


def test_cli_optimizers_all(tmp_path, capsys):
    from minidl.cli import main

    assert main(["trajectories", "--functions", "quadratic", "--optimizers", "all", "--steps", "3",
                 "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.txt").read_text().splitlines()[2:]
    assert [line.split()[1] for line in summary] == T.all_optimizers()


# ------------------------------------------------------------------ escaped or diverged
def test_leaving_the_saddle_window_is_an_escape_never_a_divergence():
    from minidl.lab import functions2d

    saddle = functions2d.get("saddle")
    tr = T.run_trajectory("saddle", parse_spec("sgd"), steps=500)
    # SGD at lr 0.01 multiplies y by 1 + 2 * 0.01 each step: 0.001 * 1.02**370 = 1.52 > 1.5, the window's edge
    assert tr.escaped_at == 370 == tr.steps and tr.diverged_at is None
    assert not saddle.in_window(tr.points[-1]) and saddle.in_window(tr.points[-2])
    assert tr.legend == "sgd (lr=0.01), escaped (step 370)"
    assert tr.outcome(369) == "" and tr.legend_at(0) == "sgd (lr=0.01)"
    assert "escaped (step 370)" in T.format_summary({"saddle": [tr]})
    # a step far past DIVERGENCE_BOUND (y = 0.001 * (1 + 2e100)) is an escape too, where there is no minimum
    tr = T.run_trajectory("saddle", parse_spec("sgd:lr=1e100"), steps=5)
    assert tr.escaped_at == 1 and tr.diverged_at is None and "diverged" not in tr.legend


def test_divergence_is_named_only_where_there_is_a_minimum():
    # SGD at lr 0.5 on the quadratic multiplies y by 1 - 0.5 * 100 = -49: |y| = 49**4 > 1e6 at step 4
    tr = T.run_trajectory("quadratic", parse_spec("sgd:lr=0.5"), steps=100)
    assert tr.diverged_at == 4 and tr.escaped_at is None
    assert tr.legend == "sgd:lr=0.5 (lr=0.5), diverged (step 4)"
    assert tr.legend_at(3) == "sgd:lr=0.5 (lr=0.5)"
    assert "diverged (step 4)" in T.format_summary({"quadratic": [tr]})


def test_contours_are_grey_and_the_saddles_loss_axis_is_linear():
    pytest.importorskip("matplotlib")
    from matplotlib.collections import Collection

    from minidl.lab import functions2d, trajectory_plots as P
    from minidl.lab.plots import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 4)
    for ax, name in zip(axes[:2], ["saddle", "quadratic"]):
        P._contour(ax, functions2d.get(name))
    colours = {tuple(np.round(c, 3)) for ax in axes[:2] for coll in ax.findobj(Collection)
               for c in coll.get_edgecolor()}
    assert colours == {(0.45, 0.45, 0.45, 0.5)}
    for ax, name in zip(axes[2:], ["saddle", "quadratic"]):
        P._loss_axis(ax, functions2d.get(name), [T.run_trajectory(name, parse_spec("sgd"), steps=10)], ["k"])
    assert axes[2].get_yscale() == "linear" and axes[3].get_yscale() == "log"
    assert axes[0].get_xlim() == (-1.5, 1.5) and axes[0].get_ylim() == (-1.5, 1.5)
    plt.close(fig)


# ------------------------------------------------------------------ the animation
def _saddle_runs(steps=120):
    # SGD at lr 0.05 multiplies y by 1.1 per step: 0.001 * 1.1**77 = 1.53, out of the window at step 77
    return [T.run_trajectory("saddle", parse_spec(s), steps=steps) for s in ["sgd:lr=0.05", "adam:lr=0.001"]]


def test_gif_is_wide_has_the_frames_asked_for_and_keeps_the_line_colours(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    from minidl.lab import trajectory_plots as P

    runs = _saddle_runs()
    assert runs[0].escaped_at == 77 and runs[1].escaped_at is None
    path = P.animate_trajectories("saddle", runs, str(tmp_path / "saddle.gif"), max_frames=12)
    colours = [P._rgb(c) for c in P._colors(2)]
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.size[0] >= 1000 and gif.n_frames == 12
        flat = gif.getpalette()
        palette = {tuple(flat[i:i + 3]) for i in range(0, len(flat), 3)}
        seen = []
        for k in range(gif.n_frames):
            gif.seek(k)
            seen.append({c for _, c in gif.convert("RGB").getcolors(1 << 20)})
            assert seen[-1] <= palette, k         # one palette for every frame: no colour shifts between frames
    assert set(colours) <= palette and set(colours) <= seen[-1]   # each line's own colour, exactly
    assert seen[0] != seen[-1]                   # the frames differ: the paths grow


def test_animation_legend_outside_fonts_readable_and_labels_only_from_their_step():
    pytest.importorskip("matplotlib")
    from matplotlib.text import Text

    from minidl.lab import functions2d, trajectory_plots as P
    from minidl.lab.plots import pyplot

    plt = pyplot()
    runs = _saddle_runs()
    with plt.rc_context(P.ANIMATION_FONTS):
        figure = P._animation_figure(functions2d.get("saddle"), runs)
    fig = figure.fig
    fig.canvas.draw()
    width, height = fig.get_size_inches() * fig.dpi
    assert width >= 1000
    legend_box = figure.legend.get_window_extent()
    for ax in (figure.ax, figure.ax_loss):
        assert not legend_box.overlaps(ax.get_window_extent()), "the legend sits outside both panels"
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
    assert sizes and min(sizes) >= 12
    texts = figure.legend.get_texts()
    assert texts[0].get_text() == "sgd:lr=0.05 (lr=0.05)"                        # frame 0: no outcome yet
    figure.update(76)
    assert "escaped" not in texts[0].get_text()
    figure.update(77)
    assert texts[0].get_text() == "sgd:lr=0.05 (lr=0.05), escaped (step 77)"
    assert texts[1].get_text() == "adam:lr=0.001 (lr=0.001)"
    figure.update(120)                                                           # the escaped path stays whole
    paths = [line for line in figure.ax.get_lines() if line.get_linewidth() == 2.0]
    assert [len(p.get_xdata()) for p in paths] == [78, 121]
    assert figure.ax_loss.get_title() == "loss against step: step 120 of 120"
    plt.close(fig)
