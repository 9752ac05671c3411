"""A readable build: the executed notebooks rendered to HTML (nbconvert), with an index page.

    python -m mialib.notebook.html build/executed build/html

``./run_all.sh`` calls it after the notebooks ran, so ``build/html/index.html`` opens every
notebook with its figures and computed text, without Jupyter.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

import nbformat


def _title_and_summary(nb) -> tuple[str, str]:
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    lines = [ln.strip() for ln in first.splitlines()]
    title = next((ln.lstrip("# ") for ln in lines if ln.startswith("#")), "notebook")
    body = " ".join(ln for ln in lines if ln and not ln.startswith("#"))
    return title, (body[:300] + "...") if len(body) > 300 else body


def render(executed_dir: str | Path, out_dir: str | Path) -> Path:
    """Render every ``NN_*.ipynb`` in ``executed_dir`` to ``out_dir/<name>.html`` and write
    ``out_dir/index.html``; return the index path."""
    from nbconvert import HTMLExporter

    executed_dir, out_dir = Path(executed_dir), Path(out_dir)
    notebooks = sorted(executed_dir.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks in {executed_dir}: run ./run_all.sh first")
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    rows = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        body, _ = exporter.from_notebook_node(nb)
        (out_dir / f"{path.stem}.html").write_text(body, encoding="utf-8")
        title, summary = _title_and_summary(nb)
        rows.append(f'<li><a href="{path.stem}.html">{html.escape(title)}</a><p>{html.escape(summary)}</p></li>')
    index = out_dir / "index.html"
    index.write_text("<!doctype html><html><head><meta charset='utf-8'><title>Attacks on diffusion models</title>"
                     "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}li{margin-bottom:1em}"
                     "p{margin:.2em 0;color:#444}</style></head><body><h1>Attacks on diffusion models: executed "
                     f"notebooks</h1><ol>{''.join(rows)}</ol></body></html>\n", encoding="utf-8")
    return index


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.html", description=__doc__.split("\n\n")[0])
    ap.add_argument("executed", nargs="?", default="build/executed")
    ap.add_argument("out", nargs="?", default="build/html")
    args = ap.parse_args(argv)
    print(f"[html] {render(args.executed, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
