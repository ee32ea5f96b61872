"""The one exception type that reaches the command line as a one-line message."""


class SepmonError(Exception):
    """A user-facing error: printed as one line, exit status ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class ConfigError(SepmonError):
    """A bad configuration: names the key and the reason; exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=2)
