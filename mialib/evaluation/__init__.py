"""Evaluation: metrics from the exact ROC with bootstrap intervals (:mod:`.metrics`), paired
comparisons and the one rule that states a verdict (:mod:`.compare`), fairness metrics
(:mod:`.fairness`), the accuracy of property estimates (:mod:`.estimates`), means and intervals
over training seeds (:mod:`.repetitions`), memorisation
distances (:mod:`.memorisation`), whether samples are digits (:mod:`.sample_quality`), sample
quality as a Fréchet distance in a classifier trained here (:mod:`.frechet`), the empirical lower
bound on a training's ε from attack scores (:mod:`.epsilon_bound`), plots (:mod:`.plots`) and the
notebooks' figures (:mod:`.figures`; notebook 08's: :mod:`.defence_figures`), the papers' reported
numbers (:mod:`.reference`) and the sentences that report a run (:mod:`.report`; notebook 08's:
:mod:`.defence_report`)."""
