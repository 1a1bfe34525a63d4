"""Data quality: is the model wrong, or the label? The Data quality page's science.

- `label_issues.py`: suspect labels by confident learning on out-of-sample probabilities
  (training split, k-fold) and on the shipped models' test probabilities; duplicates.
"""
