"""Plotly figure builders by subject (dataset, answers, comparison, confusion, embeddings):
pure functions of arrays, no streamlit, testable without a browser."""
