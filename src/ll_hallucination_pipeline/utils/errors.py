"""The one exception type the pipeline raises for bad input: a single line naming the fix."""


class PipelineInputError(ValueError):
    """Bad input detected before any work is done; the message says what to change."""
