"""Notebook executions, on top of every other layer: parameter profiles and their checks
(:mod:`.profiles`), the papermill runner that executes every notebook under a profile
(:mod:`.runner`) and its lanes, one process per notebook of a side-by-side run (:mod:`.lane`),
which notebooks may run side by side and on how many threads (:mod:`.schedule`), the bookkeeping of
one execution, the only way a notebook writes figures and results (:mod:`.results`), the HTML build
of the executed notebooks (:mod:`.html`), the students' versions without the solutions
(:mod:`.student`), nbgrader's metadata of the exercise and check cells (:mod:`.grading`) and an
nbgrader course folder under a profile (:mod:`.course`)."""
