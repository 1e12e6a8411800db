"""Errors the stages raise for bad input. Each names the file (and line) and says what was wrong,
so an entry point can print one clear line instead of a traceback from deep inside a library."""


class AscError(Exception):
    """Base class of every error meant for the user rather than the developer."""


class InputError(AscError):
    """A file given to a stage is missing, malformed or inconsistent with its neighbours."""

    def __init__(self, path, problem: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path} line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class ConfigError(AscError):
    """A YAML config has an unknown key, a missing key or a value of the wrong type."""
