"""The types that cross module boundaries: a model's manifest, a training progress event, and
the fixed choices (origins, statuses, methods) as Literals."""
