"""Re-execute notebooks in place so their committed outputs match the code (``make notebooks``).

Each notebook runs top to bottom in a fresh kernel with its own folder as the working
directory, exactly as ``pytest --nbval`` will run it, and is saved with its outputs.
A notebook that raises is reported and left unchanged on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def execute(path: Path, timeout: int = 1200) -> bool:
    """Execute one notebook in place; return False (and print the error) if a cell fails."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as err:
        print(f"{path}: {str(err).splitlines()[0] if str(err) else 'cell failed'}", file=sys.stderr)
        return False
    nbformat.write(nb, path)
    print(f"{path}: executed")
    return True


def main(paths: list[str]) -> int:
    ok = [execute(Path(p)) for p in sorted(paths)]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
