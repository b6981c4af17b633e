"""The one error tree of `da`. Each class carries its exit code; the CLI maps them to a
sentence on stderr in one place (`da_cli.cli.main`). Errors the *model* causes (bad code,
a failing cell) are not raised: they go back to the model as Execute observations."""


class DaError(Exception):
    """A failure the user can act on. `str(err)` is one sentence; `hint` says what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class SetupError(DaError):
    """Part of this installation or machine is missing (report templates, the Pango
    library for PDF) or a training worker failed: nothing the input could change."""

    exit_code = 1


class UsageError(DaError):
    exit_code = 2


class DataError(DaError):
    """A source is missing, unreadable or of an unknown kind."""

    exit_code = 3


class EmptySource(DataError):
    """A source with nothing to read (an empty file, a workbook without data, a database
    without tables): named on its own it is an error; found in a directory it is skipped
    with a note, since one empty file there loses nothing."""


class ModelError(DaError):
    """The model is missing, corrupt, or its backend failed."""

    exit_code = 4


class SandboxError(DaError):
    """The code worker could not start or died in a way it cannot recover from."""

    exit_code = 5


class BudgetExhausted(DaError):
    """A budget ran out; the run still produced a (partial) answer."""

    exit_code = 6


EXIT_INTERRUPTED = 130
