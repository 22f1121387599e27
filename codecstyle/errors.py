"""The one exception type for problems a user can cause and fix."""


class CodecStyleError(Exception):
    """A user-facing error: bad input file, unknown style, unwritable output, bad option.

    The CLI prints ``str(err)`` as one line on stderr and exits with code 2.
    """
