"""Errors a person can cause and fix. Each becomes one clear line (CLI exit code 2)
or one message (GUI); anything else is a bug and keeps its traceback."""


class UserError(Exception):
    """Bad input: the message is shown as it is, without a traceback."""


class ImageError(UserError):
    """An image that cannot be read or is not acceptable."""


class ModelError(UserError):
    """A network or weights file that cannot be loaded, or that cannot run."""


class Cancelled(Exception):  # noqa: N818 - the name says what happened, as asyncio's does
    """Raised by :meth:`explorer.core.tasks.Task.check` once the person asked to stop.

    Not a :class:`UserError`: nobody did anything wrong. The window turns it into a quiet
    stop, the command line into exit code 130 with nothing half-written."""
