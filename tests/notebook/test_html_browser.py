"""The HTML build in a real browser, offline: headless Chromium opens a page and the index built
from a tiny executed notebook, and the math must be typeset by the local MathJax (its output
elements present, no raw ``$...$`` left in the visible text) and the PNG figure drawn.

Skipped when no Chromium is found ($MIALIB_CHROMIUM, else chromium, chromium-browser,
google-chrome on PATH); Debian/Ubuntu: ``apt-get install -y chromium``."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from mialib.core import paths
from mialib.notebook.html import render

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Offline and quiet: no sandbox (root in containers), no GPU, no background requests of any kind.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1000,1400", "--virtual-time-budget=10000")
# How MathJax 2.7 shows a formula it could not typeset: the TeX in a noError span, an <merror>, or
# an undefined macro in red.
TEX_ERROR = re.compile(r'class="noError"|&lt;merror|mathcolor=&quot;red|Math Processing Error')
MAGENTA = "#ff00ff"  # the figure's face colour, looked for in the screenshot


def _browser() -> str | None:
    named = os.environ.get("MIALIB_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


BROWSER = _browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium for the headless-browser test of the HTML build: set MIALIB_CHROMIUM "
    f"(now {os.environ.get('MIALIB_CHROMIUM')!r}) or put one of {', '.join(BROWSERS)} on PATH "
    "(Debian/Ubuntu: apt-get install -y chromium)")


def open_page(page: Path, tmp_path: Path, screenshot: Path | None = None) -> str:
    """The DOM of ``page`` after its scripts ran (MathJax included), and optionally a screenshot."""
    args = [BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom"]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    try:
        done = subprocess.run([*args, page.resolve().as_uri()], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{BROWSER} did not finish with {page} in 90 s")
    assert done.returncode == 0 and "<body" in done.stdout, f"{BROWSER} failed on {page}: {done.stderr[-2000:]}"
    return done.stdout


class _VisibleText(HTMLParser):
    """The text a reader sees: everything outside head, script, style and MathJax's hidden copies."""

    HIDDEN = {"head", "script", "style", "title", "math"}

    def __init__(self):
        super().__init__()
        self.stack, self.parts = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "img", "meta", "link", "hr", "input", "wbr", "col", "source"):
            cls = dict(attrs).get("class") or ""
            self.stack.append(tag in self.HIDDEN or "MJX_Assistive_MathML" in cls or "MathJax_Preview" in cls)

    def handle_endtag(self, tag):
        if self.stack and tag not in ("br", "img", "meta", "link", "hr", "input", "wbr", "col", "source"):
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.parts.append(data)


def visible_text(dom: str) -> str:
    parser = _VisibleText()
    parser.feed(dom)
    return " ".join(parser.parts)


def assert_typeset(dom: str, inline: int, display: int) -> None:
    """MathJax replaced every formula by its output and left no TeX in the visible text."""
    assert len(re.findall(r'<script type="math/tex"[ >]', dom)) == inline, "inline formulas not found by MathJax"
    assert len(re.findall(r'<script type="math/tex; mode=display"[ >]', dom)) == display
    assert len(re.findall(r'<span class="MathJax"[ >]', dom)) == inline + display, "MathJax output missing"
    assert dom.count('class="MathJax_Display"') == display
    assert "STIXMathJax_" in dom, "the formulas are not set in MathJax's own (STIX-Web) fonts"
    assert not TEX_ERROR.search(dom), f"a TeX error: {TEX_ERROR.search(dom).group(0)}"
    text = visible_text(dom)
    assert "$" not in text and not re.search(r"\\[A-Za-z]", text), text


def _png_figure() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2), dpi=100, facecolor=MAGENTA)
    ax.plot([0, 1], [0, 1], color="black")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A build of one executed notebook: inline and display math, and a PNG figure."""
    root = tmp_path_factory.mktemp("browser")
    png = base64.b64encode(_png_figure()).decode("ascii")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 09 · Typeset\n\nThe **error** $\\lVert \\hat x - x \\rVert^2$ "
                                      "and the score $S = -\\log(C + \\delta)$.\n\n"
                                      "$$\\frac{1}{K^2}\\sum_{i,j} \\int_0^1 e_i\\,dt$$"),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
            "display_data", {"image/png": png, "text/plain": "<Figure>"})])]
    nbformat.write(nb, root / "09_typeset.ipynb")
    with pytest.MonkeyPatch.context() as mp:  # an empty repository: no gallery, figures or results
        for name, value in (("MIALIB_ROOT", root), ("MIALIB_FIGURES", root / "figures"),
                            ("MIALIB_RESULTS", root / "results")):
            mp.setenv(name, str(value))
        index = render(root, root / "html")
    return index.parent, png


def test_a_notebook_page_typesets_its_math_offline_and_shows_its_figure(site, tmp_path):
    from PIL import Image

    out, png = site
    shot = tmp_path / "page.png"
    dom = open_page(out / "09_typeset.html", tmp_path, screenshot=shot)
    assert_typeset(dom, inline=2, display=1)
    assert f'src="data:image/png;base64,{png}' in dom
    assert re.search(r'<nav class="mialib-nav"><a href="index.html">', dom)

    pixels = Image.open(shot).convert("RGB")
    colours = pixels.getcolors(maxcolors=pixels.width * pixels.height)
    not_white = sum(n for n, c in colours if min(c) < 245) / (pixels.width * pixels.height)
    magenta = sum(n for n, (r, g, b) in colours if r > 240 and g < 20 and b > 240)
    assert not_white > 0.02, f"the screenshot is nearly blank ({not_white:.1%} not white)"
    assert magenta > 10_000, f"the figure is not drawn ({magenta} magenta pixels; its frame has about 30,000)"


def test_the_index_typesets_the_introduction(site, tmp_path):
    out, _ = site
    dom = open_page(out / "index.html", tmp_path)
    assert_typeset(dom, inline=2, display=1)  # the first paragraph is short: the formula's joins it
    assert "<strong>error</strong>" in dom and '<a href="09_typeset.html">' in dom


def test_a_page_of_the_last_real_build_typesets_its_math(tmp_path):
    """Optional: a page of build/html from ./run_all.sh, when one built with a local MathJax exists."""
    out = paths.repo_root() / "build" / "html"
    pages = sorted(out.glob("[0-9][0-9]_*.html")) if (out / "mathjax" / "MathJax.js").is_file() else []
    page = next((p for p in pages if "$" in p.read_text(encoding="utf-8")), None)
    if page is None:
        pytest.skip(f"no page with math built with a local MathJax in {out} (./run_all.sh makes them)")
    dom = open_page(page, tmp_path)
    found = len(re.findall(r'<script type="math/tex(?:; mode=display)?"[ >]', dom))
    assert found and len(re.findall(r'<span class="MathJax"[ >]', dom)) == found, page
    assert "STIXMathJax_" in dom and not TEX_ERROR.search(dom), page
