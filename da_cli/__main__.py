"""`python -m da_cli` and the `da` command. The CLI is imported here, inside `main`, so a
Ctrl-C while it loads (pandas, DuckDB: about a second) is an interrupt like any other:
exit 130 and one word, not a traceback."""

import sys

from da_cli import load_cuda_llama_first
from da_cli.errors import EXIT_INTERRUPTED


def main() -> None:
    try:
        load_cuda_llama_first()
        from da_cli.cli import main as cli_main
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    cli_main()


if __name__ == "__main__":
    main()
