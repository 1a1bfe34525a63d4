"""Training: from a registry recipe to a saved version.

- `engine.py`: the fit loop (input pipeline on TensorFlow or JAX, augmentation phase, early
  stopping, progress events, k-fold cross-validation, device and precision).
- `run.py`: one run, data in and artifact out: the single path behind the CLI and the Train page.
- `jobs.py`: background training jobs, one at a time per cache folder, with live progress.
- `ensemble.py`: choosing the ensemble's members and weights on the validation split.
"""
