"""The run store: one JSON record per run in ``OUT/runs/``, written once, never replaced.

A *configuration* is a plain dict that says everything a run depends on (the optimizer
with every default resolved, its convention, the seed, the problem, the data set and the
fingerprint of its files, the subsets, epochs, batch size, backend, dtype and minidl's
version) plus a few keys that only describe it (:data:`DESCRIPTIVE`: the label, a note,
where the files were found and how they were stored, how much progress to print).  Its *id* is the sha256 of the
rest, as canonical JSON, cut to :data:`ID_LENGTH` hex digits: the same run has the same id
on every machine and under every label.

A *record* is what one run produced (``minidl.lab.run.execute``): the configuration, the
per-epoch history, the per-step losses, times, the environment and a ``status``:

* ``ok``: the run finished; ``diverged``: its loss or weights went non-finite (the step and
  what are in ``record["divergence"]``).  These are *final*: the record's file is
  ``runs/<id>.json``, and a later command with the same configuration skips the run.
* ``failed`` (an exception, ``record["error"]``) and ``interrupted`` (Ctrl-C): kept beside,
  as ``runs/<id>.<status>.<time>-<pid>-<n>.json``; a later command runs the run again.

Every file is written with :func:`minidl.fileio.atomic_write` in exclusive mode, so a record
is complete or absent, is never overwritten (two processes finishing the same run keep the
first record) and two commands writing into one folder keep every record.  Nothing here
deletes a record; files in ``runs/`` that are not records are reported by name and skipped.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import tempfile
import time

from minidl import fileio

RECORD_FORMAT = "minidl-run/1"
ID_LENGTH = 24
#: configuration keys that describe a run without changing it (left out of its id)
DESCRIPTIVE = ("label", "note", "data_dir", "data_files", "verbose")
STATUSES = ("ok", "diverged", "failed", "interrupted")
FINAL = ("ok", "diverged")
#: a record larger than this is not read (a foreign file; records are well under 10 MB)
MAX_RECORD_BYTES = 64 * 1024 * 1024
#: temporaries of minidl.fileio older than this are left by a killed process (a record or a
#: view is written in milliseconds)
STALE_SECONDS = 60.0
_LEGACY_TEMPORARY = re.compile(r"^(results\.json|results\.csv|table\.md)\.tmp\d+$")
_counter = itertools.count()


class StoreError(ValueError):
    """The store's folder cannot be used (not creatable, not a folder, not writable)."""


def writable_folder(folder, option: str = "--out") -> str:
    """Create ``folder`` if needed and prove a file can be written in it; StoreError (one line
    naming ``option`` and the folder) when not: a file in the way, no permission, /sys..."""
    folder = os.fspath(folder)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise StoreError(f"{option}: {folder} exists and is not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{option}: cannot create the folder {folder} ({exc.strerror or exc})") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".minidl-write-probe.", suffix=fileio.TEMP_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StoreError(f"{option}: cannot write into the folder {folder} ({exc.strerror or exc})") from None
    return folder


def identity(config: dict) -> dict:
    """The part of ``config`` that decides the run: everything but :data:`DESCRIPTIVE`."""
    return {k: v for k, v in config.items() if k not in DESCRIPTIVE}


def config_id(config: dict) -> str:
    """The run's id: sha256 of its identity as canonical JSON (sorted keys), hex, cut."""
    text = json.dumps(identity(config), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_LENGTH]


def check_record(record) -> str | None:
    """None when ``record`` is a well-formed run record, else what is wrong with it."""
    if not isinstance(record, dict):
        return f"not a JSON object (a {type(record).__name__})"
    if record.get("format") != RECORD_FORMAT:
        return f"not a minidl run record (format {record.get('format')!r}, expected {RECORD_FORMAT!r})"
    config = record.get("config")
    if not isinstance(config, dict):
        return "its 'config' is not an object"
    if record.get("status") not in STATUSES:
        return f"status {record.get('status')!r} is not one of {', '.join(STATUSES)}"
    try:
        actual = config_id(config)
    except (TypeError, ValueError) as exc:
        return f"its configuration cannot be hashed ({exc})"
    if record.get("id") != actual:
        return f"its id {record.get('id')!r} is not the hash of its configuration ({actual})"
    if not isinstance(record.get("history"), dict):
        return "its 'history' is not an object"
    return None


def record_file_name(record: dict) -> str:
    """``<id>.json`` for a final record; a unique name beside it for the others."""
    if record["status"] in FINAL:
        return f"{record['id']}.json"
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{record['id']}.{record['status']}.{stamp}-{os.getpid()}-{next(_counter)}.json"


def dump_record(record) -> str:
    """A record (or any JSON value) as text: one key per line, each list of numbers or
    strings on one line."""
    return _dump(record, 0) + "\n"


def _dump(value, depth: int) -> str:
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k))}: {_dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        items = [f"{inner}{_dump(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, separators=(", ", ": "))


def best_record(records: list):
    """Of several records of one id: the final one, else the newest failed, else the newest."""
    if not records:
        return None
    rank = {"ok": 3, "diverged": 3, "failed": 2, "interrupted": 1}
    return max(records, key=lambda r: (rank[r["status"]], r.get("times", {}).get("finished") or ""))


class RunStore:
    """The records under ``out/runs/``.

    ``prepare()`` makes (and checks) the folders and clears stale temporaries; ``load()``
    reads every record, ``write(record)`` adds one.  Only the process that owns the store
    writes to it: workers return records, they never write files.
    """

    def __init__(self, out):
        if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
            raise StoreError(f"--out: expected a folder path, got {out!r}")
        self.out = os.fspath(out)
        self.runs_dir = os.path.join(self.out, "runs")

    def __repr__(self):
        return f"RunStore({self.out!r})"

    # ------------------------------------------------------------------ folders
    def prepare(self) -> list:
        """Create ``out/`` and ``out/runs/``, prove they are writable, remove stale temporaries.

        Raises :class:`StoreError` (one line naming the folder) when that fails, so a bad
        ``--out`` is found before anything trains.  Returns the temporaries removed."""
        for folder in (self.out, self.runs_dir):
            writable_folder(folder)
        removed = []
        for folder in (self.out, self.runs_dir):
            removed += fileio.remove_stale_temporaries(folder, older_than=STALE_SECONDS)
        removed += self._remove_legacy_temporaries()
        return removed

    def _remove_legacy_temporaries(self) -> list:
        """``results.json.tmp<pid>`` and the like, left by minidl 0.1's writer after a kill."""
        removed = []
        now = time.time()
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.out):
                if _LEGACY_TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        if now - entry.stat().st_mtime >= STALE_SECONDS:
                            os.unlink(entry.path)
                            removed.append(entry.path)
        return removed

    # ------------------------------------------------------------------ records
    def load(self):
        """``(records, problems)``: every readable record (sorted by file name), and one line
        per file of ``runs/`` that is not one (named; the file is left where it is)."""
        records, problems = [], []
        try:
            names = sorted(os.listdir(self.runs_dir))
        except FileNotFoundError:
            return records, problems
        for name in names:
            if name.startswith(".") or not name.endswith(".json"):
                continue
            path = os.path.join(self.runs_dir, name)
            record, problem = self.read_record(path)
            if problem is not None:
                problems.append(f"{path}: {problem}; skipped")
            else:
                records.append(record)
        return records, problems

    @staticmethod
    def read_record(path):
        """``(record, None)`` for a well-formed record file, else ``(None, what is wrong)``."""
        try:
            size = os.path.getsize(path)
            if size > MAX_RECORD_BYTES:
                return None, f"{size} bytes, larger than any run record"
            with open(path, encoding="utf-8") as fh:
                record = json.load(fh)
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"cannot be read ({exc})"
        except ValueError as exc:
            return None, f"is not valid JSON ({exc})"
        problem = check_record(record)
        if problem is None and not os.path.basename(path).startswith(record["id"]):
            problem = f"its file name does not start with its id {record['id']}"
        return (None, problem) if problem else (record, None)

    def by_id(self, records=None) -> dict:
        """id -> the best record of that id (:func:`best_record`)."""
        if records is None:
            records, _ = self.load()
        groups: dict = {}
        for record in records:
            groups.setdefault(record["id"], []).append(record)
        return {rid: best_record(group) for rid, group in groups.items()}

    def has_final(self, rid: str) -> bool:
        """Whether ``runs/<rid>.json`` exists (an ok or diverged run)."""
        return os.path.exists(os.path.join(self.runs_dir, f"{rid}.json"))

    def write(self, record: dict):
        """Add ``record``; returns its path, or None when a final record of its id already
        exists (another process finished the same run first: that record is kept)."""
        problem = check_record(record)
        if problem is not None:
            raise ValueError(f"RunStore.write: {problem}")
        path = os.path.join(self.runs_dir, record_file_name(record))
        try:
            fileio.atomic_write(path, dump_record(record), exclusive=True)
        except FileExistsError:
            return None
        return path
