"""Errors a person can cause and fix. Each becomes one clear line (CLI exit code 2)
or one message box (GUI); anything else is a bug and keeps its traceback."""


class UserError(Exception):
    """Bad input: the message is shown as it is, without a traceback."""


class ImageError(UserError):
    """An image that cannot be read or is not acceptable."""


class ModelError(UserError):
    """A network or weights file that cannot be loaded."""
