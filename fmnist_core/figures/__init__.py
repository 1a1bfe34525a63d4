"""Plotly figure builders by subject: pure functions of arrays, no streamlit, testable without
a browser.

dataset (class balance), answers (one picture's probabilities per model), comparison (learning
curves, k-fold spread, per-class accuracy, the accuracy/cost trade-off), calibration (reliability
diagram, coverage), confusion (the clickable matrix, two models' difference), embeddings (the
map of the test images), inside (the strip of layers, feature-map grids), labels (names placed
beside points without overlaps), quiz (a person against
the models, the class's scores), style (the colours and layout every figure shares).
"""
