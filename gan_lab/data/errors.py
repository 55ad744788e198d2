"""The one exception type the data layer raises."""

from __future__ import annotations


class DataError(Exception):
    """A dataset is missing, corrupt, malformed or was asked for with bad arguments.

    The message always says what went wrong and how to fix it (where to put a
    file, where to download it, which names are valid).
    """


class DataUnavailableError(DataError):
    """The real files are missing, corrupt or malformed (the arguments were fine).

    ``gan_lab.data.load`` falls back to phantoms on this error only; a bad
    argument (unknown flag, split or size) is always raised.
    """
