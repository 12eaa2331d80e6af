"""optim.resolve / optim.create: registered names, module:Class of one's own, entry points, and
one-line errors for what is not there."""
import textwrap

import numpy as np
import pytest

from minidl import optim
from minidl.tensor import Parameter

MODULE = textwrap.dedent('''
    from minidl import backend as B
    from minidl.optim import Optimizer

    class SignSGD(Optimizer):
        """w_t = w_{t-1} - lr * sign(g_t)"""
        DEFAULTS = {"paper": {"lr": 0.01}}

        def update(self, w, g, state, group):
            w -= group["lr"] * B.get_array_module(w).sign(g)

    NOT_A_CLASS = 3

    class NotAnOptimizer:
        pass
''')


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = f"user_optim_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    return name


def test_registered_names_resolve_case_insensitively():
    assert optim.resolve("adam") is optim.Adam and optim.resolve("Adam") is optim.Adam
    assert optim.resolve(optim.SGD) is optim.SGD


def test_a_class_of_ones_own_from_the_current_folder(user_module):
    cls = optim.resolve(f"{user_module}:SignSGD")
    assert cls.__name__ == "SignSGD" and issubclass(cls, optim.Optimizer)
    p = Parameter(np.array([1.0, -2.0]))
    opt = optim.create(f"{user_module}:SignSGD", [p], lr=0.5)
    p.grad = np.array([3.0, 4.0])
    opt.step()
    np.testing.assert_array_equal(p.data, [0.5, -2.5])


@pytest.mark.parametrize("what, message", [
    ("no_such_module_xyz:SignSGD", "no module named 'no_such_module_xyz'"),
    ("{m}:Missing", "has no 'Missing'"),
    ("{m}:NOT_A_CLASS", "is a int, not a subclass of minidl.optim.Optimizer"),
    ("{m}:NotAnOptimizer", "is a type, not a subclass of minidl.optim.Optimizer"),
    ("adamm", "unknown optimizer 'adamm'; available: "),
    ("", "expected a name such as"),
])
def test_what_is_not_there_is_one_line_naming_it(user_module, what, message):
    with pytest.raises(ValueError) as info:
        optim.resolve(what.format(m=user_module))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_installed_package_registers_optimizers_by_entry_point(tmp_path, user_module, monkeypatch):
    dist = tmp_path / "userpkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: userpkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[minidl.optimizers]\nsignsgd = {user_module}:SignSGD\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert optim.resolve("signsgd").__name__ == "SignSGD"
    with pytest.raises(ValueError, match="signsgd"):      # listed among what is available
        optim.resolve("nosuch")
