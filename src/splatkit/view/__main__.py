"""``python -m splatkit.view PATH``: the ``view`` sub-command on its own (errors as one line)."""

from __future__ import annotations

import argparse
import sys

from splatkit.errors import SplatkitError
from splatkit.view.cli import HELP, add_view_arguments, cmd_view


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m splatkit.view", description=HELP)
    add_view_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_view(args)
    except SplatkitError as e:
        print(f"splatkit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
