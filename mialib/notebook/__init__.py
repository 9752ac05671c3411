"""Notebook executions: the papermill runner that executes every notebook under a parameter
profile (:mod:`.runner`), and the bookkeeping of one execution, the only way a notebook writes
figures and results (:mod:`.results`)."""
