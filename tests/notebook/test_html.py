"""The readable build: executed notebooks rendered to HTML with an index, readable offline
(no browser here: tests/notebook/test_html_browser.py opens the pages in headless Chromium)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from mialib.notebook import html as html_build
from mialib.notebook.html import MathJaxMissing, main, render, title_and_intro

FIRST_PARAGRAPH = ("The **target** is a model $\\epsilon_\\theta(x_t, t)$ trained on members; this paragraph "
                   "is long enough on its own to be the whole introduction of the index, which stops at the "
                   "end of a paragraph and never inside a word such as supercalifragilistic.")
INTRO = (f"# 09 · A title\n\n{FIRST_PARAGRAPH}\n\nSECOND paragraph, only in the notebook.\n\n"
         "| a | b |\n|---|---|\n| 1 | 2 |\n")


def _notebook(intro: str = INTRO):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(intro),
                nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output(
                    "execute_result", {"text/plain": "2"}, execution_count=1)])]
    return nb


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty repository root (no gallery, figures or results yet) with one executed notebook."""
    root = tmp_path / "repo"
    (root / "build" / "executed").mkdir(parents=True)
    nbformat.write(_notebook(), root / "build" / "executed" / "09_demo.ipynb")
    monkeypatch.setenv("MIALIB_ROOT", str(root))
    monkeypatch.setenv("MIALIB_FIGURES", str(root / "figures"))
    monkeypatch.setenv("MIALIB_RESULTS", str(root / "results"))
    return root


def _build(root: Path) -> Path:
    return render(root / "build" / "executed", root / "build" / "html")


def _pages(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.html")}


def _hrefs(page: str) -> list[str]:
    return re.findall(r'\b(?:href|src)="([^"]+)"', page)


def test_render_writes_one_page_per_notebook_and_an_index(repo):
    index = _build(repo)
    text = index.read_text()
    assert '<a href="09_demo.html"><strong>09 · A title</strong></a>' in text
    page = (repo / "build" / "html" / "09_demo.html").read_text()
    assert "<pre>2</pre>" in page and "<title>09 · A title</title>" in page
    with pytest.raises(FileNotFoundError, match="run ./run_all.sh first"):
        render(repo / "empty", repo / "html2")


def test_mathjax_is_copied_and_loaded_by_a_relative_url_without_any_cdn(repo):
    out = _build(repo).parent
    (repo / "docs").mkdir()
    (repo / "docs" / "gallery.md").write_text("# Gallery\n\nAn AUC of $0.9$.\n")
    _build(repo)
    pages = _pages(out)
    assert set(pages) == {"index.html", "09_demo.html", "gallery.html"}
    for name, page in pages.items():
        scripts = re.findall(r'<script[^>]*\bsrc="([^"]*)"', page)
        assert scripts == [html_build.MATHJAX_URL], (name, scripts)
        for cdn in ("cdnjs", "cdn.jsdelivr", "unpkg.com", "mathjax.org"):
            assert cdn not in page, (name, cdn)
        assert not re.search(r'\b(?:src|href)="(?:https?:)?//', page), name
    script, query = html_build.MATHJAX_URL.split("?config=")
    assert (out / script).is_file() and script.startswith("mathjax/")
    for config in query.split(","):  # every configuration named in the URL is in the copy
        assert (out / "mathjax" / "config" / f"{config}.js").is_file(), config
    # the configuration points the output at the fonts this MathJax ships (STIX-Web only, no TeX)
    assert 'webFont: "STIX-Web"' in (out / "mathjax" / "config" / "local" / "stixweb.js").read_text()
    assert any((out / "mathjax" / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").glob("*.woff"))
    assert not (out / "mathjax" / "fonts" / "HTML-CSS" / "TeX").exists()


def test_index_shows_the_introduction_rendered_and_cut_between_paragraphs(repo):
    index = _build(repo).read_text()
    intro = re.search(r'<div class="intro">(.*?)</div>', index, re.S).group(1)
    assert "<strong>target</strong>" in intro and "**" not in intro
    assert "$\\epsilon_\\theta(x_t, t)$" in intro  # math left whole for MathJax
    assert "supercalifragilistic.</p>" not in intro  # the link to the rest sits inside the paragraph
    assert "supercalifragilistic. <a href=\"09_demo.html\">(continued in the notebook)</a></p>" in intro
    assert "SECOND" not in intro and "<table>" not in intro and "|" not in intro
    assert "# 09" not in intro and "A title" not in intro


def test_short_first_paragraphs_are_joined_and_a_whole_intro_is_not_marked_shortened():
    title, intro, shortened = title_and_intro(_notebook("# T\n\nShort one.\n\nShort **two**.\n\n"
                                                        + "word " * 60 + "\n\nNot shown."))
    assert title == "T" and intro.count("<p>") == 3 and shortened and "Not shown" not in intro
    title, intro, shortened = title_and_intro(_notebook("# T\n\nAll of it: $a < b$."))
    assert intro == "<p>All of it: $a &lt; b$.</p>" and not shortened


def test_every_notebook_page_links_back_to_the_index(repo):
    nbformat.write(_notebook("# 10 · Another\n\nText."), repo / "build" / "executed" / "10_other.ipynb")
    out = _build(repo).parent
    for name in ("09_demo.html", "10_other.html"):
        page = (out / name).read_text()
        nav = re.findall(r'<nav class="mialib-nav"><a href="index.html">', page)
        assert len(nav) == 1, name
        assert page.index("<body") < page.index("<nav") < page.index("<h1")  # at the top of the page


def test_gallery_figures_and_results_are_linked_only_when_they_exist_and_the_links_resolve(repo):
    out = _build(repo).parent
    index = (out / "index.html").read_text()
    assert "gallery" not in index and "results" not in index and "figures" not in index
    assert not (out / "gallery.html").exists()

    (repo / "docs" / "gallery").mkdir(parents=True)
    (repo / "docs" / "gallery" / "09_demo_roc.png").write_bytes(b"png")
    (repo / "docs" / "gallery.md").write_text("# Gallery\n\n![roc](gallery/09_demo_roc.png)\n\n"
                                              "[the README](../README.md#top) and [a site](https://example.org)\n")
    (repo / "README.md").write_text("readme")
    (repo / "figures").mkdir()
    (repo / "figures" / "09_demo_roc.png").write_bytes(b"png")
    (repo / "figures" / "10_other_roc.png").write_bytes(b"png")  # another notebook's figure
    (repo / "results").mkdir()
    (repo / "results" / "09_demo.json").write_text("{}")
    index = _build(repo).read_text()
    hrefs = _hrefs(index)
    assert "gallery.html" in hrefs
    assert "../../results/09_demo.json" in hrefs and "../../figures/09_demo_roc.png" in hrefs
    assert "../../figures/" in hrefs and "../../results/" in hrefs
    assert "../../figures/10_other_roc.png" not in hrefs  # not listed under notebook 09
    gallery = (out / "gallery.html").read_text()
    assert '<img src="../../docs/gallery/09_demo_roc.png"' in gallery
    assert 'href="https://example.org"' in gallery and 'href="../../README.md#top"' in gallery
    for page, links in (("index.html", hrefs), ("gallery.html", _hrefs(gallery))):
        for href in links:
            if href.startswith(("http", "mathjax/")):
                continue
            target = out / unquote(href.split("#")[0])
            assert target.exists(), (page, href)


def test_rebuilding_works_reuses_the_copy_and_repairs_a_damaged_file(repo):
    out = _build(repo).parent
    first = _pages(out)
    files = sorted(p.relative_to(out) for p in (out / "mathjax").rglob("*"))
    (out / "mathjax" / "MathJax.js").write_text("damaged")
    _build(repo)
    assert _pages(out) == first
    assert sorted(p.relative_to(out) for p in (out / "mathjax").rglob("*")) == files  # nothing nested
    source = html_build.mathjax_source() / "MathJax.js"
    assert (out / "mathjax" / "MathJax.js").read_bytes() == source.read_bytes()


def test_a_missing_mathjax_package_is_named_with_its_install_command(repo, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(html_build.importlib.util, "find_spec",
                        lambda name, *a: None if name == "jupyter_server_mathjax" else real(name, *a))
    with pytest.raises(MathJaxMissing, match=r"package jupyter-server-mathjax.*pip install jupyter-server-mathjax"):
        _build(repo)
    assert not (repo / "build" / "html").exists()  # failed before writing anything
    assert main([str(repo / "build" / "executed"), str(repo / "build" / "html")]) == 1
    assert "pip install jupyter-server-mathjax" in capsys.readouterr().err
