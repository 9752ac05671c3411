"""The experiments the notebooks run, each from its parameters to its data, trained models and sweeps:
membership inference on one target (:mod:`.membership`); attacks over parameter grids and tuning on
the calibration split (:mod:`.sweeps`); notebook 04's comparison of every attack on one target
(:mod:`.comparison`); attack results that cost a training, computed once and shared by notebooks 02
and 04 (:mod:`.cached_attacks`); notebook 02's bfloat16-against-fp32 comparison
(:mod:`.precision`); what the sharing experiments' shared models have in common (:mod:`.sharing`);
property inference by the receiver of a shared model (:mod:`.property`); fairness poisoning by its
sharer (:mod:`.fairness`); the attacks on a text-to-image model (:mod:`.text_to_image`); notebook 08's defended targets, their
utility and the ε audit (:mod:`.defences`)."""
