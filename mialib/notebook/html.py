"""A readable build: the executed notebooks rendered to HTML (nbconvert), with an index page.

    python -m mialib.notebook.html build/executed build/html

``./run_all.sh`` calls it after the notebooks ran, so ``build/html/index.html`` opens every
notebook with its figures and computed text, without Jupyter and without a network: MathJax is
copied from the ``jupyter-server-mathjax`` package into ``build/html/mathjax/`` and loaded by a
relative URL, and nbconvert's other CDN scripts (require.js, mermaid, the widget manager), which
these notebooks do not need, are left out. Every page links back to the index; the index shows
each notebook's introduction (its first paragraphs, rendered) and links the gallery
(``docs/gallery.md``, rendered to ``gallery.html``), the run's figures and its results where they
exist.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import quote, unquote

import nbformat

from ..core import paths

MATHJAX_DIR = "mathjax"
# jupyter-server-mathjax ships MathJax 2.7 with one combined configuration (nbconvert's default,
# TeX-AMS_CHTML-full, is not in it: no CommonHTML output) and only the STIX-Web fonts, which its
# HTML-CSS and SVG outputs must be told to use, as Jupyter does (the configuration below, written
# to config/local/): left at their TeX default they fall back to the browser's serif font.
_LOCAL_CONFIG = "local/stixweb"
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,{_LOCAL_CONFIG}"
_LOCAL_CONFIG_JS = """MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  SVG: {font: "STIX-Web"}
});
MathJax.Ajax.loadComplete("[MathJax]/config/%s.js");
""" % _LOCAL_CONFIG
INTRO_MIN_CHARS = 200  # the index shows the first paragraph, and the next ones while shorter

_NAV = '<nav class="mialib-nav"><a href="index.html">&larr; all notebooks</a></nav>'
_NAV_CSS = ".mialib-nav{font-family:sans-serif;padding:.6em 1em;border-bottom:1px solid #ddd}"

# The lab template, offline: no require.js, mermaid or widget manager from CDNs, and a link back.
_PAGE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}<style type="text/css">""" + _NAV_CSS + """</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}
""" + _NAV + """
{%- endblock body_header -%}
"""

# The index and the gallery: a plain page with the same MathJax as the notebooks.
_SHELL_TEMPLATE = """{% from 'mathjax.html.j2' import mathjax %}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em;line-height:1.45}
li{margin-bottom:1.2em}.intro p,.links{margin:.3em 0;color:#333}.links{font-size:90%}
img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}
a.anchor-link{display:none}
""" + _NAV_CSS + """</style>
{{ mathjax(mathjax_url) }}
</head><body>{% if nav %}""" + _NAV + """{% endif %}
{{ body }}
</body></html>
"""


class MathJaxMissing(RuntimeError):
    """The package that provides the local MathJax is not installed."""


def mathjax_source() -> Path:
    """The MathJax 2.7 folder of the ``jupyter-server-mathjax`` package (found without importing
    it, which would import jupyter_server)."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    static = Path(next(iter(spec.submodule_search_locations))) / "static" if spec else None
    if static is None or not (static / "MathJax.js").is_file():
        raise MathJaxMissing(
            "the HTML build needs a local MathJax, from the package jupyter-server-mathjax, which is "
            f"not installed in {sys.prefix}: install it with "
            f"`{sys.executable} -m pip install jupyter-server-mathjax==0.2.6` (pinned in requirements.txt)")
    return static


def _copy_if_changed(src: str, dst: str) -> str:
    """``shutil.copy2`` unless ``dst`` already has ``src``'s size and modification time."""
    s, d = os.stat(src), (os.stat(dst) if os.path.exists(dst) else None)
    if d is None or d.st_size != s.st_size or int(d.st_mtime) != int(s.st_mtime):
        shutil.copy2(src, dst)
    return dst


def copy_mathjax(out_dir: Path) -> Path:
    """Copy MathJax into ``out_dir/mathjax`` (all of it, about 10 MB: its menu can switch renderers
    and languages at view time) with the configuration of its fonts; files already there and
    unchanged are skipped, so a rebuild is fast."""
    dst = out_dir / MATHJAX_DIR
    shutil.copytree(mathjax_source(), dst, dirs_exist_ok=True, copy_function=_copy_if_changed)
    config = dst / "config" / f"{_LOCAL_CONFIG}.js"
    config.parent.mkdir(exist_ok=True)
    config.write_text(_LOCAL_CONFIG_JS, encoding="utf-8")
    return dst


def _split_title(source: str) -> tuple[str, str]:
    """(first ``#`` heading without its hashes, the markdown without that line)."""
    lines = source.splitlines()
    at = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("#")), None)
    if at is None:
        return "notebook", source
    return lines[at].strip().lstrip("#").strip(), "\n".join(lines[:at] + lines[at + 1:])


def _leading_paragraphs(body_html: str, min_chars: int = INTRO_MIN_CHARS) -> tuple[str, bool]:
    """The first ``<p>`` of rendered markdown, and the ones after it while the text so far is shorter
    than ``min_chars``; cut only between paragraphs. Returns (html, whether something was left out)."""
    kept, text_len, rest = [], 0, body_html.strip()
    while text_len < min_chars and (m := re.match(r"<p>.*?</p>", rest, re.S)):
        kept.append(m.group(0))
        text_len += len(html.unescape(re.sub(r"<[^>]+>", "", m.group(0))))
        rest = rest[m.end():].strip()
    return "\n".join(kept), bool(rest)


def title_and_intro(nb) -> tuple[str, str, bool]:
    """A notebook's title (its first markdown cell's ``#`` heading) and its introduction: the rest
    of that cell rendered to HTML by nbconvert's markdown filter (math left for MathJax), shortened
    at a paragraph boundary. Returns (title, intro html, whether the intro was shortened)."""
    from nbconvert.filters import markdown2html_mistune

    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    title, body = _split_title(first)
    intro, shortened = _leading_paragraphs(markdown2html_mistune(body))
    return title, intro, shortened


def _href(target: Path, out_dir: Path) -> str:
    """A relative URL from a page in ``out_dir`` to ``target``."""
    return quote(Path(os.path.relpath(target.resolve(), out_dir.resolve())).as_posix())


def _rebase_links(body: str, from_dir: Path, out_dir: Path) -> str:
    """Rewrite relative ``src``/``href`` values of HTML written for ``from_dir`` so that they resolve
    from ``out_dir``."""
    def fix(m: re.Match) -> str:
        url = html.unescape(m.group(2))
        path, tail = re.match(r"([^?#]*)(.*)", url, re.S).groups()
        if not path or re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:|/", url):  # absolute, or in-page
            return m.group(0)
        return f'{m.group(1)}="{html.escape(_href(from_dir / unquote(path), out_dir) + tail)}"'
    return re.sub(r'\b(src|href)="([^"]*)"', fix, body)


def _notebook_links(stem: str, out_dir: Path) -> list[str]:
    """Links to this notebook's results JSON and figures, for those that exist."""
    links = []
    result = paths.results_dir() / f"{stem}.json"
    if result.is_file():
        links.append(f'<a href="{_href(result, out_dir)}">results ({html.escape(result.name)})</a>')
    for fig in sorted(paths.figures_dir().glob(f"{stem}_*.png")):
        links.append(f'<a href="{_href(fig, out_dir)}">{html.escape(fig.stem[len(stem) + 1:])}</a>')
    return links


def _site_links(out_dir: Path, gallery: Path | None) -> list[str]:
    """Links to the gallery page and the figures and results folders, for those that exist."""
    links = []
    if gallery is not None:
        links.append(f'<a href="{gallery.name}">gallery of the quick profile</a> (docs/gallery.md)')
    figures, results = paths.figures_dir(), paths.results_dir()
    if any(figures.glob("*.png")):
        links.append(f'<a href="{_href(figures, out_dir)}/">all figures</a> (figures/)')
    if any(results.glob("*.json")):
        links.append(f'<a href="{_href(results, out_dir)}/">all results</a> (results/, one JSON per notebook)')
    return links


def _render_gallery(shell, out_dir: Path) -> Path | None:
    """``docs/gallery.md`` as ``out_dir/gallery.html`` (its images linked where they lie), or None
    when there is no gallery."""
    from nbconvert.filters import markdown2html_mistune

    source = paths.repo_root() / "docs" / "gallery.md"
    if not source.is_file():
        return None
    body = _rebase_links(markdown2html_mistune(source.read_text(encoding="utf-8")), source.parent, out_dir)
    page = out_dir / "gallery.html"
    page.write_text(shell.render(title="Gallery of the quick profile", mathjax_url=MATHJAX_URL, nav=True,
                                 body=body), encoding="utf-8")
    return page


def render(executed_dir: str | Path, out_dir: str | Path) -> Path:
    """Render every ``NN_*.ipynb`` in ``executed_dir`` to ``out_dir/<name>.html``, copy MathJax to
    ``out_dir/mathjax``, render the gallery and write ``out_dir/index.html``; return the index path.
    Re-running overwrites the pages and skips the MathJax files already copied."""
    from nbconvert import HTMLExporter

    executed_dir, out_dir = Path(executed_dir), Path(out_dir)
    notebooks = sorted(executed_dir.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks in {executed_dir}: run ./run_all.sh first")
    mathjax_source()  # fail before writing anything
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out_dir)
    exporter = HTMLExporter(template_name="lab", mathjax_url=MATHJAX_URL, raw_template=_PAGE_TEMPLATE)
    rows = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        title, intro, shortened = title_and_intro(nb)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        (out_dir / f"{path.stem}.html").write_text(body, encoding="utf-8")
        if shortened and intro.endswith("</p>"):
            intro = intro[:-4] + f' <a href="{path.stem}.html">(continued in the notebook)</a></p>'
        links = _notebook_links(path.stem, out_dir)
        rows.append(f'<li><a href="{path.stem}.html"><strong>{html.escape(title)}</strong></a>'
                    f'<div class="intro">{intro}</div>'
                    + (f'<p class="links">{" · ".join(links)}</p>' if links else "") + "</li>")
    shell = exporter.environment.from_string(_SHELL_TEMPLATE)
    site = _site_links(out_dir, _render_gallery(shell, out_dir))
    body = ("<h1>Attacks on diffusion models: executed notebooks</h1>"
            + (f'<p class="links">{" · ".join(site)}</p>' if site else "") + f"<ol>{''.join(rows)}</ol>")
    index = out_dir / "index.html"
    index.write_text(shell.render(title="Attacks on diffusion models", mathjax_url=MATHJAX_URL, nav=False,
                                  body=body), encoding="utf-8")
    return index


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.html", description=__doc__.split("\n\n")[0])
    ap.add_argument("executed", nargs="?", default="build/executed")
    ap.add_argument("out", nargs="?", default="build/html")
    args = ap.parse_args(argv)
    try:
        print(f"[html] {render(args.executed, args.out)}")
    except (FileNotFoundError, MathJaxMissing) as exc:
        print(f"[html] {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
