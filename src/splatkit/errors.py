"""The splatkit exception hierarchy.

Every error a user can cause or meet is a :class:`SplatkitError`. Errors carry the data needed to
act on them (the file, the field, expected and actual values, the fix) as attributes, and their
message says it in one line, so the CLI can print ``str(error)`` and nothing else.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "SplatkitError",
    "InputError",
    "ContractError",
    "BackendUnavailableError",
    "PluginError",
    "StageError",
]


class SplatkitError(Exception):
    """Root of every error raised on purpose by splatkit."""


class InputError(SplatkitError):
    """Bad user input: a missing or malformed file, an unsafe ZIP, an unreadable image, a bad URI.

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    path
        The offending file or folder, when there is one. It is prefixed to the message.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ContractError(SplatkitError, ValueError):
    """A data contract was violated (wrong shape, dtype, value, or a dangling index).

    It is also a :class:`ValueError`, so code written against plain numpy checks keeps working.

    Parameters
    ----------
    message
        What is wrong and, where known, what produced it.
    field
        The contract field at fault, e.g. ``"GaussianCloud.means"``.
    expected, actual
        What the contract wants and what it got (shapes, dtypes, counts).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        expected: object = None,
        actual: object = None,
    ) -> None:
        self.field = field
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class BackendUnavailableError(SplatkitError, RuntimeError):
    """A stage backend was selected but cannot run here; ``install_hint`` says how to fix it."""

    def __init__(self, message: str, *, kind: str, name: str, install_hint: str = "") -> None:
        self.kind = kind
        self.name = name
        self.install_hint = install_hint
        suffix = f" ({install_hint})" if install_hint and install_hint not in message else ""
        super().__init__(f"{message}{suffix}")


class PluginError(SplatkitError):
    """A plugin is broken: a duplicate stage name, a class missing stage attributes, a failed import."""


class StageError(SplatkitError):
    """A stage ran and failed: which stage, on which input, and why.

    Parameters
    ----------
    message
        Why it failed and what to try.
    stage
        ``"kind/name"`` of the stage, e.g. ``"sfm/pycolmap"``.
    source
        The input the stage was working on (a path or a description).
    """

    def __init__(self, message: str, *, stage: str, source: str | Path | None = None) -> None:
        self.stage = stage
        self.source = None if source is None else str(source)
        where = f" on {self.source}" if self.source else ""
        super().__init__(f"{stage} failed{where}: {message}")
