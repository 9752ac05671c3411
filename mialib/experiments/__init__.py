"""The experiments the notebooks run, each from its parameters to its data and trained models:
membership inference on one target (:mod:`.membership`), property inference by the receiver of a
shared model (:mod:`.property`)."""
