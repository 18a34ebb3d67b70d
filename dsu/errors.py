"""The one error type the CLI turns into a one-line message with a fix."""


class DsuError(Exception):
    """A failure the operator can act on: what went wrong, and what to do about it."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message
