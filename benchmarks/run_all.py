"""Every benchmark in this folder, each figure beside its baseline: the same as
``cnn-explorer bench`` (which holds the runner).

    python -m benchmarks.run_all [--quick] [--json] [--only NAME ...]
"""

from __future__ import annotations

import sys

from explorer.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
