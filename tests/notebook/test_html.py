"""The readable build: executed notebooks rendered to HTML with an index."""

from __future__ import annotations

import nbformat
import pytest

from mialib.notebook.html import render


def test_render_writes_one_page_per_notebook_and_an_index(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 09 · A title\n\nWhat it shows."),
                nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"},
                                                                                  execution_count=1)])]
    (tmp_path / "exec").mkdir()
    nbformat.write(nb, tmp_path / "exec" / "09_demo.ipynb")
    index = render(tmp_path / "exec", tmp_path / "html")
    text = index.read_text()
    assert '<a href="09_demo.html">09 · A title</a>' in text and "What it shows." in text
    assert "<pre>2</pre>" in (tmp_path / "html" / "09_demo.html").read_text()
    with pytest.raises(FileNotFoundError, match="run ./run_all.sh first"):
        render(tmp_path / "empty", tmp_path / "html2")
