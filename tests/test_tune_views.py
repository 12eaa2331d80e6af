"""The tuning views from hand-made records: grid points in numeric order, the best point and
its ties, the table's columns per problem, and the time format."""
import math

from minidl.lab import tune_views as tv


def record(stage, lr, *, val_accuracy=0.5, val_loss=1.0, problem="mnist-logreg", seed=0, label="sgd",
           status="ok", test_loss=0.3, reached=False):
    history = {"val_accuracy": [val_accuracy], "val_loss": [val_loss]}
    if stage != "grid":
        history = {"test_accuracy": [0.9], "test_loss": [test_loss]}
    return {"id": f"{stage}-{lr}-{seed}", "label": label, "status": status, "history": history,
            "target": {"reached": reached, "steps_to_target": 10 if reached else None,
                       "seconds_to_target": 0.0421 if reached else None},
            "config": {"stage": stage, "problem": problem, "seed": seed, "tune": {"grid": {"lr": lr}},
                       "optimizer": {"hyper": {"lr": 0.01}},
                       "target": {"metric": "val_accuracy", "value": 0.9}}}


LRS = [1e-2 * 10 ** (k * 4 / 6) for k in range(7)]            # lr=1e-2:1e2:7, log-spaced


def test_grid_points_are_in_numeric_order_not_text_order():
    # as text, "1e-05" sorts after "0.001" and "10.0" before "2.15": the sensitivity line zigzags
    recs = [record("grid", lr, val_accuracy=0.1 + i / 10) for i, lr in enumerate(LRS)]
    for shuffled in (recs[::-1], recs[3:] + recs[:3]):
        row = tv.analyze(shuffled)["problems"]["mnist-logreg"]["rows"][0]
        assert [g["point"]["lr"] for g in row["grid"]] == sorted(LRS)
        assert row["best"]["point"]["lr"] == LRS[-1] and row["edge"][0]["side"] == "high"
    mixed = [{"lr": 1e-05}, {"lr": 0.001}, {"lr": 10.0}, {"lr": 2.0}]
    assert sorted(mixed, key=tv.point_order) == [{"lr": 1e-05}, {"lr": 0.001}, {"lr": 2.0}, {"lr": 10.0}]
    assert tv.point_order({"b": 1, "a": "x"}) < tv.point_order({"b": 1, "a": "y"})


def test_ties_go_to_the_smallest_value():
    recs = [record("grid", lr, val_accuracy=0.8) for lr in (1.0, 0.1, 0.01)]
    row = tv.analyze(recs)["problems"]["mnist-logreg"]["rows"][0]
    assert row["best"]["point"]["lr"] == 0.01


def test_a_loss_scored_problem_has_no_accuracy_columns():
    recs = [record("grid", 0.1, problem="quadratic-deep"), record("tuned", 0.1, problem="quadratic-deep"),
            record("default", 0.01, problem="quadratic-deep", test_loss=2.5)]
    for r in recs:
        r["config"]["target"] = {"metric": "val_loss", "value": 90}
    table = tv.format_tune_table(tv.analyze(recs))
    head = next(line for line in table.splitlines() if line.startswith("| Optimizer"))
    assert "acc" not in head and "Default test loss" in head and "Tuned test loss" in head
    assert "2.5000 ± 0.0000" in table
    table = tv.format_tune_table(tv.analyze([record("grid", 0.1), record("tuned", 0.1)]))
    assert "Default test acc" in table and "Tuned test acc" in table


def test_seconds_keep_their_digits():
    assert tv.fmt_seconds(0.0421) == "0.042 s" and tv.fmt_seconds(3.14159) == "3.1 s"
    assert tv.fmt_seconds(27.44) == "27.4 s" and not math.isnan(float(tv.fmt_seconds(0.5)[:-2]))
    recs = [record("grid", 0.1), record("tuned", 0.1, reached=True)]
    assert "0.042 s" in tv.format_tune_table(tv.analyze(recs))


def test_a_progress_line_names_the_grid_point_and_the_problems_metric():
    from minidl.lab.batch import describe

    grid = record("grid", 0.1, problem="quadratic-deep", val_loss=87.6345)
    grid["config"]["target"] = {"metric": "val_loss", "value": 90}
    grid["times"] = {"wall_seconds": 1.25}
    line = describe(grid)
    assert line.startswith("sgd (lr=0.1, seed 0): ok") and "val loss 87.63" in line and "acc" not in line
    final = record("tuned", 0.1, seed=2)
    final["config"]["split"] = "test"
    final["times"] = {"wall_seconds": 3.0}
    assert "test acc 0.9000" in describe(final) and "seed 2" in describe(final)


def test_a_loss_that_blew_up_does_not_flatten_the_sensitivity_axis():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minidl.lab.plots import line_styles

    recs = [record("grid", lr, problem="quadratic-deep", val_loss=v)
            for lr, v in ((1e-3, 350.0), (1e-2, 120.0), (1e-1, 90.0), (1.0, 2.7e35))]
    for r in recs:
        r["config"]["target"] = {"metric": "val_loss", "value": 90}
    result = tv.analyze(recs)["problems"]["quadratic-deep"]
    fig, ax = plt.subplots()
    above = tv._cap_loss_axis(ax, result, line_styles(1))
    assert ax.get_yscale() == "log" and ax.get_ylim()[1] == 20 * 90.0
    assert [g["point"]["lr"] for g in above] == [1.0]
    plt.close(fig)


def test_the_slides_style_draws_bigger_tune_figures_with_an_svg_beside(tmp_path):
    from PIL import Image

    recs = [record("grid", lr, val_accuracy=0.5 + lr) for lr in (0.01, 0.1)]
    recs += [record("tuned", 0.1, reached=True), record("default", 0.01, reached=True)]
    analysis = tv.analyze(recs)
    sizes = {}
    for style in ("paper", "slides"):
        paths = tv.write_tune_figures(analysis, str(tmp_path / style), style)
        assert [p.rsplit("/", 1)[-1] for p in paths] == list(tv.TUNE_FIGURES)
        for p in paths:
            assert (tmp_path / style / p.rsplit("/", 1)[-1].replace(".png", ".svg")).stat().st_size > 0
        sizes[style] = [Image.open(p).size for p in paths]
    for (pw, ph), (sw, sh) in zip(sizes["paper"], sizes["slides"]):
        assert sw > 1.5 * pw and sh > 1.5 * ph
