"""Starting `cargo metadata` for `prepare` before the rest of the tool is even imported.

cargo's answer is most of prepare's time (about 160 ms for 500 members), and Python's start-up (the
interpreter, the zipapp's bootstrap, argparse, tomlkit) can run while cargo works. So when the
command line plainly says `prepare`, the process first *guesses* the `cargo metadata` call prepare
will make and starts it (`prestart`). Prepare, once it has parsed its arguments properly, adopts the
running cargo only if it would have made exactly that call (`take`); otherwise cargo is killed and
prepare starts its own. A wrong or missing guess costs time, never correctness, and any failure
while guessing just means no guess: prepare then reports it in its ordinary way.

Standard library only and no import of the package: the zipapp runs a copy of this module, as
`_chefpy_early`, before shiv's bootstrap has put the package on sys.path (see integration/zipapp.py).
"""

from __future__ import annotations

import atexit
import os
import sys

TYPE_CHECKING = False  # typing itself costs 2 ms of start-up, before cargo starts
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence
    from typing import IO

METADATA = ("metadata", "--format-version", "1", "--no-deps", "--offline")
ZIPAPP_COPY = "_chefpy_early"  # the module name of the copy the zipapp runs before its bootstrap


def which(name: str, path: str | None) -> str | None:
    """shutil.which's answer for a plain name on POSIX, without importing shutil on every start-up."""
    if path is None:
        try:
            path = os.confstr("CS_PATH") or os.defpath
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def cargo_path(environ: Mapping[str, str]) -> str | None:
    """`$CARGO` (cargo sets it for subcommands) if it names an executable file, else cargo on PATH."""
    explicit = environ.get("CARGO")
    if explicit:
        usable = os.access(explicit, os.X_OK) and not os.path.isdir(explicit)
        return explicit if usable else None
    return which("cargo", environ.get("PATH"))


def metadata_args(manifest_path: str) -> list[str]:
    return [*METADATA, "--manifest-path", manifest_path]


def spool() -> IO[bytes]:
    """An anonymous temporary file for a child's output. Unlike a pipe it never fills, so cargo never
    waits for us and no thread has to drain it while prepare works."""
    try:
        # O_TMPFILE: a file without a name, so there is no name to race for (what S108 warns of)
        fd = os.open(os.environ.get("TMPDIR") or "/tmp", os.O_TMPFILE | os.O_RDWR, 0o600)  # noqa: S108
    except (AttributeError, OSError):  # no O_TMPFILE here, or TMPDIR is odd: let tempfile find a place
        import tempfile

        return tempfile.TemporaryFile()
    return os.fdopen(fd, "w+b")


class Running:
    """A child started with its stdout and stderr spooled to anonymous files; where no temporary file
    can be made (no writable temporary directory), with pipes read once it ends, as before spooling."""

    def __init__(self, command: Sequence[str], cwd: str) -> None:
        self.command, self.cwd = list(command), cwd
        self._spools: tuple[IO[bytes], IO[bytes]] | None = None
        self._output: tuple[bytes, bytes] | None = None
        self.proc: subprocess.Popen[bytes] | Spawned
        try:
            self._spools = (spool(), spool())
        except OSError:
            self._spools = None
        try:
            if (
                self._spools is not None
                and "subprocess" not in sys.modules
                and Spawned.can_start(self.command, cwd)
            ):
                self.proc = Spawned(self.command, *self._spools)
            else:
                import subprocess

                out, err = self._spools or (subprocess.PIPE, subprocess.PIPE)
                # bytes, decoded later: text=True would import locale on every start-up
                self.proc = subprocess.Popen(self.command, cwd=cwd, stdout=out, stderr=err)
        except BaseException:
            self._close_spools()
            raise

    def wait(self) -> int:
        if self._spools is None and self._output is None:
            self._output = self.proc.communicate()  # type: ignore[union-attr]  # Popen with pipes
        return self.proc.wait()

    def output(self) -> tuple[bytes, bytes]:
        """stdout and stderr, once `wait` has returned."""
        if self._output is None and self._spools is not None:
            self._output = (_contents(self._spools[0]), _contents(self._spools[1]))
        return self._output or (b"", b"")

    def running(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop the child if it still runs, and free its output."""
        if self.running():
            self.proc.kill()
        if self._spools is None and self._output is None:
            self._output = self.proc.communicate()  # type: ignore[union-attr]  # closes the pipes
        self.proc.wait()
        self._close_spools()

    def _close_spools(self) -> None:
        for spooled in self._spools or ():
            spooled.close()


def _contents(spooled: IO[bytes]) -> bytes:
    spooled.seek(0)
    return spooled.read()


class Spawned:
    """The part of subprocess.Popen that Running uses, over os.posix_spawn. At the very start of the
    process, importing subprocess alone takes 10 ms, which would delay cargo by as much; subprocess is
    imported later anyway, while cargo runs. As Popen does, the child gets SIGPIPE and SIGXFSZ back at
    their defaults, and of the descriptors Python opened only its stdout and stderr (the others are not
    inheritable). Unlike Popen's close_fds, descriptors this process itself inherited open (a make
    jobserver's, say) stay open in cargo, as they would under a shell."""

    def __init__(self, command: list[str], stdout: IO[bytes], stderr: IO[bytes]) -> None:
        import _signal  # type: ignore[import-not-found]  # `signal` without its enums (enum costs 3 ms)

        self.returncode: int | None = None
        self.pid = os.posix_spawn(
            command[0],
            command,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdout.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, stderr.fileno(), 2),
            ],
            setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
        )

    @staticmethod
    def can_start(command: list[str], cwd: str) -> bool:
        """posix_spawn neither searches PATH nor changes directory: only for a path, run here."""
        return hasattr(os, "posix_spawn") and os.path.isabs(command[0]) and _same_directory(cwd, ".")

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:  # SIGCHLD ignored: the child was reaped for us; Popen says 0 too
                self.returncode = 0
            else:
                if pid == self.pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._reap(os.WNOHANG)

    def wait(self) -> int:
        while True:  # waitpid(0) only returns early for a signal, which raises (KeyboardInterrupt)
            code = self._reap(0)
            if code is not None:
                return code

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, 9)  # SIGKILL


_started: list[Running] = []  # the guess, while nobody has taken it


def guess(args: Sequence[str], cwd: str, environ: Mapping[str, str]) -> tuple[list[str], str] | None:
    """The `cargo metadata` command line and directory that `cargo chefpy ARGS` run in `cwd` will use,
    when ARGS plainly say `prepare`; None when in doubt."""
    args = list(args[1:] if args[:1] == ["chefpy"] else args)  # cargo runs `cargo-chefpy chefpy ARGS`
    if args[:1] != ["prepare"]:
        return None
    manifest: str | None = None
    for i, arg in enumerate(args[1:], start=1):
        if arg in ("-h", "--help") or arg == "--":
            return None
        if arg == "--manifest-path":
            if i + 1 >= len(args):
                return None
            manifest = args[i + 1]
        elif arg.startswith("--manifest-path="):
            manifest = arg.partition("=")[2]
        elif arg.startswith("--ma"):  # an abbreviation argparse would accept: leave it to argparse
            return None
    cargo = cargo_path(environ)
    if cargo is None:
        return None
    if manifest is not None:
        path = _as_pathlib_prints(manifest if os.path.isabs(manifest) else os.path.join(cwd, manifest))
        if os.path.basename(path) != "Cargo.toml" or not os.path.isfile(path):
            return None
    else:
        directory = cwd
        while not os.path.isfile(os.path.join(directory, "Cargo.toml")):
            parent = os.path.dirname(directory)
            if parent == directory:
                return None
            directory = parent
        path = os.path.join(directory, "Cargo.toml")
    return [cargo, *metadata_args(path)], cwd


def prestart(argv: Sequence[str] | None = None) -> None:
    """Start prepare's `cargo metadata` now, if the command line plainly asks for prepare."""
    if _started or _copy_started():
        return
    try:
        found = guess(list(sys.argv[1:] if argv is None else argv), os.getcwd(), os.environ)
        if found is not None:
            _started.append(Running(*found))
            atexit.register(discard)
    except Exception:  # a guess only: prepare reports any real problem in its ordinary way
        return


def _copy_started() -> bool:
    return bool(getattr(sys.modules.get(ZIPAPP_COPY), "_started", None))


def take(command: Sequence[str], cwd: str) -> Running | None:
    """The child started early, if it runs exactly `command` in `cwd`; any other guess is stopped."""
    found = None
    for module in {sys.modules[__name__], sys.modules.get(ZIPAPP_COPY)} - {None}:
        started: list[Running] = getattr(module, "_started", [])
        while started:
            running = started.pop()
            if found is None and running.command == list(command) and _same_directory(running.cwd, cwd):
                found = running
            else:
                running.close()
    return found


def discard() -> None:
    """Stop a guess nobody took (the command failed before prepare started cargo)."""
    take((), "")


def _as_pathlib_prints(path: str) -> str:
    """`str(Path(path))` for an absolute POSIX path, without importing pathlib: empty and `.` parts go."""
    return "/" + "/".join(p for p in path.split("/") if p not in ("", "."))


def _same_directory(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
