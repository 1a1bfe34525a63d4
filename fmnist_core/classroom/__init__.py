"""What the app keeps for people, and the class's activities.

- `store.py`: the shared store (SQLite under the cache folder, or PostgreSQL by URL): review
  decisions and quiz answers, in transactions, safe with concurrent writers.
- `quiz.py`: people against the models on the same 20 test images.
"""
