"""The minidl command never shows a traceback: bad input, bad environment variables, files that
cannot be read or written, a full disk, a closed pipe and Ctrl-C each give one line on stderr
that names what is wrong (exit 2; 130 after Ctrl-C; a closed pipe exits quietly)."""
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minidl import cli

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "64", "--val-subset", "32",
         "--quiet", "--no-figures"]


def one_line(err: str, command: str) -> str:
    """The single stderr line, checked to be ``minidl <command>: error: ...`` with no traceback."""
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"minidl {command}: error: "), err
    return err


def minidl(*args, env=None, cwd=None, **kw):
    """``python -m minidl ARGS`` in a fresh process, with ``env`` added to (or, None values, taken
    from) this process's environment."""
    environment = {k: v for k, v in os.environ.items() if k != "MINIDL_BACKEND"}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")])
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return subprocess.run([sys.executable, "-m", "minidl", *args], capture_output=True, text=True,
                          env=environment, cwd=cwd or ROOT, timeout=120, **kw)


# ------------------------------------------------------------------ environment variables
def test_a_bad_backend_variable_names_the_variable_and_help_still_works():
    done = minidl("--help", env={"MINIDL_BACKEND": "bogus"})
    assert done.returncode == 0 and "compare" in done.stdout and done.stderr == ""
    done = minidl("explain", "adam", "--steps", "1", env={"MINIDL_BACKEND": "bogus"})
    assert done.returncode == 2
    err = one_line(done.stderr, "explain")
    assert "MINIDL_BACKEND='bogus'" in err and "numpy" in err
    assert err.startswith("minidl explain: error: MINIDL_BACKEND=")     # named first, not inside a row spec


def test_explain_steps_over_the_cap_is_one_line_at_once():
    import time

    start = time.perf_counter()
    done = minidl("explain", "adam", "--steps", "100000000")
    assert done.returncode == 2 and time.perf_counter() - start < 30
    err = one_line(done.stderr, "explain")
    assert "--steps: at most 10,000" in err and "100,000,000" in err


@pytest.mark.skipif(__import__("minidl").backend.cupy_available(), reason="CuPy and a GPU are present")
def test_backend_variable_cupy_without_a_gpu_is_one_line():
    done = minidl("explain", "adam", "--steps", "1", env={"MINIDL_BACKEND": "cupy"})
    assert done.returncode == 2
    assert "MINIDL_BACKEND=cupy" in one_line(done.stderr, "explain")


def test_a_bad_download_timeout_names_the_variable(tmp_path):
    done = minidl("compare", "--dataset", "mnist", "--epochs", "1", "--optimizers", "sgd", "--out", str(tmp_path / "o"),
                  env={"MINIDL_DOWNLOAD_TIMEOUT": "abc", "MINIDL_DATA_DIR": None,
                       "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 2
    err = one_line(done.stderr, "compare")
    assert "MINIDL_DOWNLOAD_TIMEOUT" in err and "'abc'" in err


def test_a_data_dir_variable_that_names_a_file(tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    done = minidl("compare", "--dataset", "mnist", "--epochs", "1", "--optimizers", "sgd", "--out", str(tmp_path / "o"),
                  env={"MINIDL_DATA_DIR": str(a_file), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 2
    err = one_line(done.stderr, "compare")
    assert f"MINIDL_DATA_DIR='{a_file}' is not a folder" in err
    assert not (tmp_path / "o" / "runs").exists() or not list((tmp_path / "o" / "runs").iterdir())


def test_importing_the_command_does_not_import_numpy_and_main_sets_the_openblas_timeout():
    code = ("import minidl.cli, sys; print('numpy' in sys.modules); import os; "
            "rc = minidl.cli.main(['explain', 'adam', '--steps', '1']); "
            "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), rc)")
    environment = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "MINIDL_BACKEND")}
    environment["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "False", "import minidl.cli imports numpy (OPENBLAS_THREAD_TIMEOUT would come too late)"
    assert lines[-1] == "20 0"


# ------------------------------------------------------------------ files
def _mnist_folder(tmp_path, bad_train_images):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(b"")
    bad_train_images(folder / "train-images-idx3-ubyte.gz")
    return folder


def _symlink_loop(path):
    other = path.parent / "loop"
    os.symlink(other, path)
    os.symlink(path, other)


@pytest.mark.parametrize("make, words", [
    (lambda p: p.mkdir(), "is a directory"),
    (_symlink_loop, "symbolic link loop"),
])
def test_an_unreadable_data_file_is_named(tmp_path, capsys, make, words):
    folder = _mnist_folder(tmp_path, make)
    rc = cli.main(["compare", "--dataset", "mnist", "--data-dir", str(folder), "--epochs", "1",
                   "--optimizers", "sgd", "--out", str(tmp_path / "o")])
    assert rc == 2
    err = one_line(capsys.readouterr().err, "compare")
    assert str(folder / "train-images-idx3-ubyte.gz") in err and words in err


def test_a_permission_error_names_the_file(tmp_path, monkeypatch, capsys):
    """Tests often run as root, where chmod 000 denies nothing: the reader is made to raise what
    open() raises for a file without read permission."""
    import minidl.data

    denied = str(tmp_path / "train-images-idx3-ubyte.gz")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", denied)

    monkeypatch.setattr(minidl.data, "load_dataset", refuse)
    assert cli.main(QUICK + ["--optimizers", "sgd", "--out", str(tmp_path / "o")]) == 2
    err = one_line(capsys.readouterr().err, "compare")
    assert f"Permission denied: '{denied}'" in err and "permissions" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads a file without read permission (chmod 000 denies nothing)")
def test_a_data_file_without_read_permission(tmp_path, capsys):
    folder = _mnist_folder(tmp_path, lambda p: p.write_bytes(b"\x1f\x8b" + b"\0" * 100))
    (folder / "train-images-idx3-ubyte.gz").chmod(0)
    rc = cli.main(["compare", "--dataset", "mnist", "--data-dir", str(folder), "--epochs", "1",
                   "--optimizers", "sgd", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "train-images-idx3-ubyte.gz" in one_line(capsys.readouterr().err, "compare")


@pytest.fixture
def full_disk(monkeypatch):
    """Every write's fsync fails as on a full disk (the error names no file, as write() does)."""
    import minidl.fileio

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(minidl.fileio.os, "fsync", full)


@pytest.mark.parametrize("command", [
    QUICK + ["--optimizers", "sgd", "--out", "{tmp}/o"],
    ["trajectories", "--optimizers", "sgd", "--steps", "5", "--functions", "quadratic", "--out", "{tmp}/o"],
])
def test_a_full_disk_is_one_line_naming_the_output_folder(tmp_path, capsys, full_disk, command):
    argv = [a.format(tmp=tmp_path) for a in command]
    assert cli.main(argv) == 2
    err = one_line(capsys.readouterr().err, argv[0])
    assert "No space left on device" in err and str(tmp_path / "o") in err and "free some space" in err


def test_a_full_disk_error_that_names_its_file(tmp_path, monkeypatch, capsys):
    import minidl.fileio

    def full(path, data, exclusive=False):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(minidl.fileio, "atomic_write", full)
    assert cli.main(["trajectories", "--optimizers", "sgd", "--steps", "5", "--functions", "quadratic",
                     "--out", str(tmp_path)]) == 2
    err = one_line(capsys.readouterr().err, "trajectories")
    assert f"No space left on device: '{tmp_path / 'summary.txt'}'" in err


# ------------------------------------------------------------------ the terminal
def test_a_closed_pipe_exits_quietly():
    """``minidl explain adam --steps 3000 | head -1``: no BrokenPipeError, nothing on stderr."""
    environment = {k: v for k, v in os.environ.items() if k != "MINIDL_BACKEND"}
    environment["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "minidl", "explain", "adam", "--steps", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, cwd=ROOT)
    first = proc.stdout.readline()
    proc.stdout.close()                       # what head does after its line
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert first.startswith(b"Adam, keras convention")
    assert err == "" and rc == 1


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    from minidl.lab import explain

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(explain, "explain", interrupted)
    assert cli.main(["explain", "adam"]) == 130
    err = capsys.readouterr().err
    assert err == "minidl explain: interrupted\n"


def test_a_bug_is_one_line_and_the_traceback_is_there_on_request(monkeypatch, capsys):
    from minidl.lab import explain

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(explain, "explain", broken)
    monkeypatch.delenv("MINIDL_TRACEBACK", raising=False)
    assert cli.main(["explain", "adam"]) == 1
    err = one_line(capsys.readouterr().err, "explain")
    assert "internal error, ZeroDivisionError: division by zero" in err and "MINIDL_TRACEBACK=1" in err
    monkeypatch.setenv("MINIDL_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["explain", "adam"])


# ------------------------------------------------------------------ options
@pytest.mark.parametrize("extra, words", [
    (["--train-subset", "99999"], "--train-subset 99999: synthetic has 10,000 training images"),
    (["--val-subset", "99999"], "--val-subset 99999: synthetic has 2,000 validation images"),
    (["--train-subset", "0"], "--train-subset must be a positive integer, got 0"),
    (["--val-subset", "-5"], "--val-subset must be a positive integer, got -5"),
])
def test_subset_errors_name_the_option(tmp_path, capsys, extra, words):
    argv = [a for a in QUICK if a not in ("--train-subset", "64", "--val-subset", "32")]
    assert cli.main(argv + extra + ["--optimizers", "sgd", "--out", str(tmp_path)]) == 2
    assert words in one_line(capsys.readouterr().err, "compare")


def test_the_dataset_help_lists_every_data_set(capsys):
    from minidl.data.catalogue import available_datasets

    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    start = text.rindex("--dataset DATASET")                  # the option, not the usage line
    help_text = text[start:text.index("--data-dir DATA_DIR", start)]
    for name in available_datasets():
        assert name in help_text, name
