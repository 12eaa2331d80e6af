"""The comparison table's footnote for rows held back by their default learning rate."""
from minidl.lab import views


def record(label, name, lr, final, seed=0, rid=None):
    from minidl.lab.specs import accepted_hyperparameters

    hyper = dict(accepted_hyperparameters(name, "keras"), lr=lr)
    return {"id": rid or f"{label}-{seed}", "label": label, "status": "ok", "divergence": None,
            "config": {"optimizer": {"name": name, "convention": "keras", "hyper": hyper}, "seed": seed,
                       "epochs": 1, "label": label, "dataset": "synthetic", "batch_size": 64},
            "history": {"epoch": [0], "val_accuracy": [final], "val_loss": [1.0]},
            "times": {"train_seconds": 1.0, "eval_seconds": 0.1}, "train_size": 100, "val_size": 50}


def test_rows_far_behind_at_their_default_lr_are_footnoted():
    recs = [record("Adadelta", "adadelta", 0.001, 0.145), record("Adam", "adam", 0.001, 0.95),
            record("Adadelta tuned", "adadelta", 1.0, 0.93), record("SGD", "sgd", 0.01, 0.91)]
    table = views.format_table(recs)
    assert "| Adadelta ‡ |" in table and "| Adam |" in table
    assert "| Adadelta tuned |" in table               # far behind? no: and not at its default lr either
    assert "| SGD |" in table                          # 0.04 behind: within the margin
    note = next(line for line in table.splitlines() if line.startswith("‡"))
    assert "Adadelta (lr = 0.001)" in note and "--preset conventions" in note and "minidl tune" in note
    assert "SGD" not in note


def test_no_footnote_when_every_row_is_close():
    table = views.format_table([record("Adam", "adam", 0.001, 0.95), record("SGD", "sgd", 0.01, 0.93)])
    assert "‡" not in table


def test_a_huge_loss_fits_its_table_cell():
    from minidl.lab.views import fmt_loss

    assert fmt_loss(0.034449) == "0.0344" and fmt_loss(2.3) == "2.3000" and fmt_loss(9999.5) == "9999.5000"
    assert fmt_loss(1.234567e33) == "1.235e+33" and fmt_loss(float("nan")) == "nan"
