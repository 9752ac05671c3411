"""Benchmarks of the companion (run as scripts: ``.venv/bin/python benchmarks/<name>.py``). A regular
package, so that ``benchmarks.<name>`` is this folder even where an installed distribution ships a
top-level ``benchmarks`` package of its own (opacus 1.6.0 does)."""
