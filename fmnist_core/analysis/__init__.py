"""What the trained models do, computed from their stored test-set probabilities or by running
them: the Predict, Compare, Confusion and Embeddings pages' numbers.

- `evaluate.py`: accuracy, loss, per-class scores, confusion matrix from probabilities.
- `results.py`: one model's results for the pages (confusions, intervals, calibration).
- `calibration.py`: expected calibration error, reliability bins, temperature scaling.
- `significance.py`: bootstrap intervals and McNemar's test between two models.
- `tradeoffs.py`: what each point of accuracy costs (parameters, size, latency), Pareto front.
- `predict.py`: every model's answer for one picture, fast (the Predict page and `predict`).
- `embeddings.py`: PCA, t-SNE, UMAP and custom axes of the test images, cached on disk.
"""
