"""The project's own exception types: one base, one subclass per kind of failure."""


class FmnistError(Exception):
    """Base class for every error this project raises on purpose."""


class DatasetError(FmnistError):
    """The dataset could not be found, read or verified."""
