"""Exercises with automatic feedback.

Each notebook ends with exercises: the student completes a function in a
cell (in the instructor notebooks the answer sits between nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers) and passes it to a
checker from this package, which says what is right, what is wrong and
gives a hint — instead of a bare AssertionError.

Every checker returns a :class:`Feedback`, truthy when the answer is right.
"""

from .core import RESULTS, Feedback, check_function, check_value, summary

__all__ = ["RESULTS", "Feedback", "check_function", "check_value", "summary"]
