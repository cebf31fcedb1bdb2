"""The error every check of :mod:`splatkit.testing` raises."""

from __future__ import annotations

__all__ = ["ContractCheckError"]


class ContractCheckError(AssertionError):
    """A stage or format breaks the plugin contract; the message says which rule and how to fix it.

    A subclass of :class:`AssertionError`, so pytest reports it as a test failure (not an error)
    and shows the message.
    """
