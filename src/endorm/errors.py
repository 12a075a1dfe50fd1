"""One error type for every user-facing problem: bad input, bad options, a folder that is not a model."""


class EndormError(Exception):
    """A problem the user can fix; the message names the file, row and field where there is one."""
