"""The experiments the notebooks run, each from its parameters to its data and trained models:
membership inference on one target (:mod:`.membership`), attacks over parameter grids and tuning
on the calibration split (:mod:`.sweeps`), property inference by the receiver of a shared model
(:mod:`.property`), fairness poisoning (:mod:`.fairness`), text-to-image (:mod:`.text_to_image`)."""
