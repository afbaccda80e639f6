"""Errors a user can cause: each carries one sentence that says what went wrong and what to do."""


class UserError(Exception):
    """A problem with the user's input, options or environment; the CLI prints its message, no traceback."""
