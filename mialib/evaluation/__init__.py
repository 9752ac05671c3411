"""Evaluation: metrics from the exact ROC with bootstrap intervals (:mod:`.metrics`), paired
comparisons and the one rule that states a verdict (:mod:`.compare`), parameter sweeps
(:mod:`.sweeps`), figures (:mod:`.plots`), the papers' reported numbers (:mod:`.reference`) and
the sentences that report a run (:mod:`.report`)."""
