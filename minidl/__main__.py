"""``python -m minidl``: the same as the ``minidl`` command (see minidl/cli.py)."""
from minidl.cli import main

raise SystemExit(main())
