"""The tool's one error hierarchy. Core code raises these; only cli.py prints them and exits."""

from __future__ import annotations


class ChefError(Exception):
    """Base error: a message (what failed, and where) and a hint (one concrete next step)."""

    exit_code = 1
    default_hint = "run with -v for more detail"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint
        self.output = ""

    def with_output(self, output: str) -> ChefError:
        """Attach a child process's own message, shown under ours."""
        self.output = output.strip()
        return self


class UsageError(ChefError):
    """Flags that contradict each other, or a malformed argument."""

    exit_code = 2
    default_hint = "see `cargo chefpy --help`"


class ProjectError(ChefError):
    """The cargo project itself is unusable: no manifest, unparsable manifest, missing or stale lock."""

    exit_code = 3


class SelectionError(ChefError):
    """A -p/--bin/--stub/--keep that matches nothing, or a contradictory selection."""

    exit_code = 4


class RecipeError(ChefError):
    """A recipe that is not a valid recipe of a version this tool reads."""

    exit_code = 5
    default_hint = "prepare the recipe again with the same cargo-chefpy version used for cook"


class WriteError(ChefError):
    """A file could not be written, or writing it would destroy different content."""

    exit_code = 6


class CargoError(ChefError):
    """cargo is missing, or one of its commands failed."""

    exit_code = 7


class InputError(ChefError):
    """An input that the recipe needs (such as a vendored directory) is missing or damaged."""

    exit_code = 8


class StampError(ChefError):
    """The cook stamp cannot be read."""

    exit_code = 9


class BuildFailed(ChefError):
    """cargo's build failed; cargo has already printed why. The exit code is cargo's own."""

    def __init__(self, message: str, *, code: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "fix the compile errors cargo printed above")
        self.exit_code = code if code > 0 else 101


class Terminated(BaseException):  # a signal, like KeyboardInterrupt, not an error
    """SIGTERM arrived (`docker stop`, a supervisor); cli.main raises it from its signal handler so that
    the running step unwinds, stops its cargo child and exits 143, as KeyboardInterrupt does for SIGINT."""


EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "success"),
    (1, "unexpected internal error (please report it, with the output of -v)"),
    (2, "usage error: unknown or contradictory flags, or a contradictory selection"),
    (3, "project error: no Cargo.toml, an unparsable manifest, a missing or out-of-date Cargo.lock"),
    (4, "selection error: a -p/--bin/--stub/--keep/--include matching nothing, or a --keep needing a stub"),
    (5, "recipe error: not a recipe, another format version, unsafe or duplicate paths, the wrong layer"),
    (6, "write error: a path that cannot be written, or differing files that cook refuses to overwrite"),
    (7, "cargo error: cargo not found, or `cargo metadata`/`cargo fetch` failed"),
    (8, "input error: a vendored directory or a file that the recipe needs is missing or incomplete"),
    (9, "stamp error: the cook stamp is corrupt"),
    (101, "cargo's build failed (cook and build pass cargo's own exit code through)"),
    (130, "interrupted (Ctrl-C, SIGINT); a running cargo is stopped first"),
    (143, "terminated (SIGTERM, as `docker stop` sends); a running cargo is stopped first"),
)
