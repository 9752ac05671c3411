"""One notebook of a side-by-side run, in its own process: the runner (:mod:`.runner`) has
already checked the profile and planned every notebook's parameters, so a lane only executes.

    python -m mialib.notebook.lane NOTEBOOK OUTPUT PARAMETERS.json

It does not load or check the profile again: that import of the attacks' and the target's
settings costs seconds per notebook and was once half of a smoke notebook's time. Exit status
0 when the notebook ran, 1 when a cell failed (the failure named on stderr), 2 on bad
arguments.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_parameters(path: Path, parameters: dict) -> Path:
    """Write the planned ``parameters`` of one notebook where its lane reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(parameters, indent=1, sort_keys=True) + "\n")
    return path


def command(notebook: Path, output: Path, parameters_file: Path) -> list[str]:
    """The command line of a lane that executes ``notebook`` into ``output``."""
    return [sys.executable, "-m", "mialib.notebook.lane", str(notebook.resolve()), str(output.resolve()),
            str(parameters_file.resolve())]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: python -m mialib.notebook.lane NOTEBOOK OUTPUT PARAMETERS.json", file=sys.stderr)
        return 2
    notebook, output, parameters_file = (Path(a) for a in argv)
    try:
        parameters = json.loads(parameters_file.read_text())
    except (OSError, ValueError) as exc:
        print(f"lane: cannot read the parameters of {notebook.name} from {parameters_file}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(parameters, dict) or not notebook.is_file():
        print(f"lane: expected a notebook and a JSON object of parameters, got {notebook} and "
              f"{type(parameters).__name__}", file=sys.stderr)
        return 2
    from ..core.process_exit import skip_final_collection
    from .runner import run_one

    skip_final_collection()  # papermill and nbconvert's objects: ~0.3 s less per notebook
    return 1 if run_one(notebook, output, parameters) else 0


if __name__ == "__main__":
    sys.exit(main())
