"""``python -m minidl``: the same as the ``minidl`` command (see minidl/cli/__init__.py)."""
from minidl.cli import main

raise SystemExit(main())
