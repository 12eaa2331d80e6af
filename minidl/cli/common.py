"""What the subcommands share: argparse types, the executor options, the runs summary, file names."""
from __future__ import annotations

import argparse


def pair(text):
    """``"x,y"`` -> (x, y) for argparse (a negative first number needs ``--start=-1,2``)."""
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers like -1.2,1, got {text!r}") from None
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers like -1.2,1, got {text!r}")
    return values


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_executor_options(p):
    """--workers, --scheduler, --threads: for every command that runs many trainings."""
    p.add_argument("--workers", type=positive_int, default=1,
                   help="runs at a time, each in its own worker process with its share of the cores "
                        "(default: 1, in this process); with --scheduler local, the LocalCluster's size")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask distributed cluster: tcp://host:8786, or 'local' for a LocalCluster "
                        "of --workers processes (pip install 'minidl[cluster]')")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads per run (default: the cores divided among the workers)")


def print_runs_summary(result, printer=print):
    if result.problems:
        printer(f"{len(result.problems)} file(s) in {result.out}/runs are not run records and were skipped "
                "(named above)")
    for label, seed, reason in result.lost:
        printer(f"not recorded: {label} (seed {seed}): {reason}")
    for record in result.failed:
        printer(f"failed: {record['label']} (seed {record['config']['seed']}): {record['error']}")


def _safe_name(label):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def unique_names(labels) -> list:
    """A file-name stem per label, distinct even where two labels map to the same characters."""
    names, used = [], set()
    for label in labels:
        stem = name = _safe_name(label) or "row"
        n = 2
        while name.lower() in used:
            name = f"{stem}-{n}"
            n += 1
        used.add(name.lower())
        names.append(name)
    return names


# ------------------------------------------------------------------ one-line errors
#: printed in place of a traceback for an error that is not the user's input (a bug): set it to see one
TRACEBACK_ENV = "MINIDL_TRACEBACK"


def _os_error_line(exc: OSError, args=None) -> str:
    """An OSError as one line that names the file (or, where the system names none, as a
    failed write() does on a full disk, the command's output folder): a full disk, no
    permission, a folder where a file belongs, a symlink loop, ..."""
    import errno

    where = " -> ".join(repr(str(f)) for f in (exc.filename, exc.filename2) if f is not None)
    out = next((getattr(args, k) for k in ("out", "views_out", "store") if getattr(args, k, None)), None)
    if not where and out is not None:
        where = f"writing under {str(out)!r}"
    reason = exc.strerror or str(exc) or type(exc).__name__
    advice = {errno.ENOSPC: "free some space, or give another --out",
              errno.EDQUOT: "free some space, or give another --out",
              errno.EACCES: "check the file's permissions, or give another path",
              errno.EPERM: "check the file's permissions, or give another path",
              errno.EROFS: "give a folder on a writable file system",
              errno.ELOOP: "a symbolic link points back to itself; fix or remove it",
              errno.EISDIR: "a folder is where a file should be",
              errno.ENOTDIR: "a file is where a folder should be"}.get(exc.errno)
    text = f"{reason}: {where}" if where else reason
    return f"{text} ({advice})" if advice else text


def check_environment(args) -> None:
    """The environment variables a command reads, checked before it starts: ``MINIDL_DATA_DIR``
    (for commands with ``--dataset``) must be a folder when it names something that exists.
    (``MINIDL_BACKEND`` is checked where a backend is first used, ``MINIDL_DOWNLOAD_TIMEOUT``
    where a download starts; both raise a ValueError that names the variable.)"""
    import os

    data_dir = os.environ.get("MINIDL_DATA_DIR")
    if data_dir and hasattr(args, "dataset") and not getattr(args, "data_dir", None):
        path = os.path.expanduser(data_dir)
        if os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(f"MINIDL_DATA_DIR={data_dir!r} is not a folder (expected a folder holding the "
                             "IDX files, or leave it unset)")


def _quiet_stdout() -> None:
    """After a broken pipe (``minidl ... | head``): point stdout at /dev/null so that the
    interpreter's last flush does not fail again (as the Python docs on SIGPIPE advise)."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run_reporting_errors(command: str, run, args) -> int:
    """``run(args)``, every failure one line on stderr, ``minidl <command>: error: ...``:

    * bad input (ValueError), no backend, no data: exit 2;
    * a file that cannot be read or written (PermissionError, a full disk, a folder where a file
      belongs, a symlink loop): exit 2, the line names the file;
    * Ctrl-C: ``minidl <command>: interrupted``, exit 130;
    * stdout closed early (``| head``): quiet, exit 1;
    * anything else is a bug: one line saying so, exit 1 (``MINIDL_TRACEBACK=1`` shows the traceback).
    """
    import os
    import sys

    from minidl import backend
    from minidl.data import DatasetNotFoundError, DownloadError

    def error(text, code=2):
        # the library's messages may list ways out on lines of their own: one line here
        text = " ".join(part.strip() for part in str(text).splitlines() if part.strip())
        print(f"minidl {command}: error: {text}", file=sys.stderr)
        return code

    try:
        check_environment(args)
        code = run(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except KeyboardInterrupt:
        print(f"minidl {command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, backend.BackendUnavailable, DatasetNotFoundError, DownloadError) as exc:
        # bad specs, unknown functions, bad vectors, bad variables, no CuPy/GPU, no data offline:
        # say what is accepted or missing, exit 2 like argparse
        return error(exc)
    except OSError as exc:
        return error(_os_error_line(exc, args))
    except MemoryError:
        return error("out of memory (ask for fewer steps, a smaller --train-subset or fewer --workers)")
    except Exception as exc:  # noqa: BLE001 - a bug, said in one line; the traceback on request
        if os.environ.get(TRACEBACK_ENV):
            raise
        return error(f"internal error, {type(exc).__name__}: {exc} (set {TRACEBACK_ENV}=1 to see the "
                     "traceback, and please report it)", 1)
