"""A real Docker engine for the integration tests, started on demand.

``ensure_engine()`` returns an :class:`Engine` when a daemon answers ``docker info``.  When none does
and this is a Debian/Ubuntu Linux machine where we are root, it installs ``docker.io`` with apt (if
``dockerd`` is missing) and starts ``dockerd`` in the background with no bridge and no
iptables/forwarding changes, so the host's network settings stay as they are.  Otherwise it raises
:class:`EngineUnavailable`, whose message is meant as a pytest skip reason.

No registry is reachable from the test machines, so there is no ``FROM rust``.  ``ensure_base_image()``
builds, once, a local ``bookworm`` image (debootstrap + ``docker import``) that carries gcc, libc6-dev,
python3 and a copy of the host's rustup toolchain, tagged ``cargo-chefpy-e2e/rust:<rustc version>-bookworm``.

Every build uses BuildKit (``DOCKER_BUILDKIT=1``), ``--network=none`` and ``--progress=plain``;
:meth:`BuildResult.steps` parses that plain log into steps and tells which were ``CACHED``.

CLI (for CI)::

    python -m integration.support.docker_engine up    # engine + base image; prints the base image's tag
    python -m integration.support.docker_engine down  # stops a dockerd this module started, nothing else
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "BASE_REPO",
    "BuildFailed",
    "BuildResult",
    "DockerError",
    "Engine",
    "EngineUnavailable",
    "Step",
    "base_tag",
    "ensure_base_image",
    "ensure_engine",
    "main",
    "stop_engine",
]

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_REPO = "cargo-chefpy-e2e/rust"
ROOTFS_TAG = f"cargo-chefpy-e2e/debian:{SUITE}-minbase"
ROOTFS_PACKAGES = ("gcc", "libc6-dev", "python3")
# Where the toolchain lives inside the base image.
IMAGE_RUST_DIR = "/usr/local/rust"
IMAGE_CARGO_HOME = "/usr/local/cargo"
LABEL_RUSTC = "cargo-chefpy-e2e.rustc"

# Everything this module leaves behind between processes lives here.
STATE_DIR = Path(tempfile.gettempdir()) / "cargo-chefpy-e2e"
PIDFILE = STATE_DIR / "dockerd.pid"  # written (and removed on exit) by dockerd itself, via --pidfile
LOGPATH_FILE = STATE_DIR / "dockerd.logpath"  # path of the current dockerd's log
LOCKFILE = STATE_DIR / "lock"

DOCKERD_FLAGS = ("--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
APT_TIMEOUT = 900.0
# Where Debian puts docker.io's client and daemon; searched in addition to $PATH.
SYSTEM_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin")

_NO_BUILD_ARGS: Mapping[str, str] = MappingProxyType({})
_NO_BUILDKIT = "reaches the daemon but cannot build with BuildKit (no buildx plugin)"


def _log(msg: str) -> None:
    print(f"[docker_engine] {msg}", file=sys.stderr, flush=True)


class EngineUnavailable(Exception):
    """No Docker engine can be used here; the message says why (used as a pytest skip reason)."""


class DockerError(RuntimeError):
    """A docker command failed; the message carries the command, its exit status and its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int | None, output: str) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output = output
        status = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(f"`{' '.join(argv)}` {status}:\n{_tail(output, 60)}")


class BuildFailed(DockerError):
    """``docker build`` failed; ``result`` holds the full plain log."""

    def __init__(self, argv: Sequence[str], returncode: int | None, result: BuildResult) -> None:
        self.result = result
        super().__init__(argv, returncode, result.log)


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# ------------------------------------------------------------------------------------------ build logs

_LINE_RE = re.compile(r"^#(\d+) (.*)$")
# `[stage i/n] INSTRUCTION` or `[i/n] INSTRUCTION`; `[internal] ...` and `exporting ...` are not steps.
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEADER_RE = re.compile(r"^\[(?:(?P<stage>[^\]\s]+) )?(?P<index>\d+)/(?P<count>\d+)\] (?P<instruction>.*)$")


@dataclass(frozen=True, slots=True)
class Step:
    """One Dockerfile instruction of a BuildKit plain log."""

    number: int  # the `#N` of the log
    name: str  # `[stage i/n] INSTRUCTION`, as printed
    cached: bool  # a `#N CACHED` line was printed
    lines: tuple[str, ...]  # this step's other lines, without the `#N ` prefix (RUN output, DONE/ERROR, ...)

    @property
    def stage(self) -> str:
        """The stage name (`""` for an unnamed single stage)."""
        m = _HEADER_RE.match(self.name)
        return (m.group("stage") or "") if m else ""

    @property
    def instruction(self) -> str:
        """The instruction without the `[stage i/n]` prefix, e.g. `RUN cargo build --offline`."""
        m = _HEADER_RE.match(self.name)
        return m.group("instruction") if m else self.name

    @property
    def output(self) -> str:
        """This step's lines joined, for substring checks."""
        return "\n".join(self.lines)


@dataclass(frozen=True, slots=True)
class BuildResult:
    log: str  # full `--progress=plain` output (stdout and stderr)
    seconds: float

    def steps(self) -> list[Step]:
        """The Dockerfile steps, in the order they were first printed."""
        headers: dict[int, str] = {}
        cached: set[int] = set()
        lines: dict[int, list[str]] = {}
        for raw in self.log.splitlines():
            m = _LINE_RE.match(raw.rstrip("\r"))
            if not m:
                continue
            number, text = int(m.group(1)), m.group(2)
            if number not in headers and _HEADER_RE.match(text):
                headers[number] = text
                lines.setdefault(number, [])
                continue
            if text == headers.get(number):  # BuildKit repeats the header when output interleaves
                continue
            if _DIGEST_RE.match(text):  # BuildKit 0.8 (Docker 20.10) prints each vertex's digest
                continue
            if text == "CACHED":
                cached.add(number)
            lines.setdefault(number, []).append(text)
        return [Step(n, name, n in cached, tuple(lines[n])) for n, name in headers.items()]

    def step(self, needle: str) -> Step:
        """The first step whose name contains ``needle``; KeyError if none does."""
        for s in self.steps():
            if needle in s.name:
                return s
        raise KeyError(f"no step matching {needle!r}; steps: {[s.name for s in self.steps()]}")


# ------------------------------------------------------------------------------------------ engine


@dataclass(frozen=True, slots=True)
class Engine:
    docker: str  # path to the docker client
    started_here: bool  # True if this process started dockerd (see `down` for one started earlier)
    host: str | None = None  # `-H` for an engine of its own (a runner, see integration/support/runners.py)
    config: str | None = None  # DOCKER_CONFIG: where the client finds its buildx plugin
    name: str = "default"
    version: str = ""  # the engine's version, e.g. 20.10.24 or 26.1.5

    @property
    def cli(self) -> list[str]:
        """The client's argv prefix: ``docker`` and, for a runner engine, ``-H unix://…``."""
        return [self.docker, *(("-H", self.host) if self.host else ())]

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        env.pop("DOCKER_HOST", None)
        if self.config is not None:
            env["DOCKER_CONFIG"] = self.config
        return env

    def docker_cmd(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS``; raise DockerError (with stderr) on failure or timeout."""
        argv = [*self.cli, *args]
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=self._env(), check=False
            )
        except subprocess.TimeoutExpired as e:
            raise DockerError(argv, None, _text(e.stderr) or _text(e.stdout)) from e
        if proc.returncode != 0:
            raise DockerError(argv, proc.returncode, proc.stderr or proc.stdout)
        return proc

    def build(
        self,
        context: Path,
        *,
        dockerfile: Path | None = None,
        tag: str | None = None,
        target: str | None = None,
        build_args: Mapping[str, str] = _NO_BUILD_ARGS,
        cache_from: Sequence[str] = (),
        extra: Sequence[str] = (),
        timeout: float = 900,
    ) -> BuildResult:
        """``docker build`` with BuildKit, no network and a plain log; raise BuildFailed on failure."""
        argv = [*self.cli, "build", "--network=none", "--progress=plain"]
        if dockerfile is not None:
            argv += ["--file", str(dockerfile)]
        if tag is not None:
            argv += ["--tag", tag]
        if target is not None:
            argv += ["--target", target]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        for ref in cache_from:
            argv += ["--cache-from", ref]
        argv += [*extra, str(context)]
        start = time.monotonic()
        try:
            proc = subprocess.run(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                env=self._env(),
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            result = BuildResult(_text(e.stdout), time.monotonic() - start)
            raise BuildFailed(argv, None, result) from e
        result = BuildResult(proc.stdout, time.monotonic() - start)
        if proc.returncode != 0:
            raise BuildFailed(argv, proc.returncode, result)
        return result

    def run(self, image: str, args: Sequence[str] = (), timeout: float = 120) -> str:
        """``docker run --rm --network=none IMAGE ARGS``; returns stdout."""
        return self.docker_cmd("run", "--rm", "--network=none", image, *args, timeout=timeout).stdout

    def image_exists(self, ref: str) -> bool:
        try:
            self.docker_cmd("image", "inspect", ref, timeout=60)
        except DockerError:
            return False
        return True

    def image_label(self, ref: str, label: str) -> str | None:
        """The value of ``label`` on image ``ref``, or None if the image or the label is missing."""
        try:
            out = self.docker_cmd(
                "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', ref, timeout=60
            ).stdout.strip()
        except DockerError:
            return None
        return out if out and out != "<no value>" else None


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _quiet_ok(argv: Sequence[str], timeout: float) -> bool:
    try:
        return (
            subprocess.run(
                argv,
                capture_output=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "DOCKER_BUILDKIT": "1"},
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def _search_path() -> str:
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return os.pathsep.join(parts + [d for d in SYSTEM_DIRS if d not in parts])


def _docker_clients() -> list[str]:
    """Candidate docker clients, best first: docker.io's /usr/bin/docker, then whatever $PATH finds."""
    found: list[str] = []
    seen: set[str] = set()
    candidates = ["/usr/bin/docker"]
    for d in _search_path().split(os.pathsep):
        candidates.append(str(Path(d) / "docker"))
    for c in candidates:
        if not (os.path.isfile(c) and os.access(c, os.X_OK)):
            continue
        real = os.path.realpath(c)
        if real not in seen:
            seen.add(real)
            found.append(c)
    return found


def _client_builds_with_buildkit(docker: str) -> bool:
    """Whether ``DOCKER_BUILDKIT=1 docker build`` works with this client.

    Clients before 23.0 (Debian's docker.io 20.10) have BuildKit built in.  Later ones hand ``docker build``
    to the buildx plugin and fail with "BuildKit is enabled but the buildx component is missing" without it.
    """
    try:
        out = subprocess.run(
            [docker, "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return False
    m = re.match(r"(\d+)\.", out)
    if m and int(m.group(1)) < 23:
        return True
    return _quiet_ok([docker, "buildx", "version"], timeout=30)


def _info_error(docker: str) -> str | None:
    """None if ``docker info`` works with this client, else its error."""
    try:
        proc = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if proc.returncode == 0:
        return None
    # Old clients print the error on stdout ("ERROR: ...") and "errors pretty printing info" on stderr.
    lines = [line.strip() for line in (proc.stdout + "\n" + proc.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:") or "daemon" in line.lower()]
    return (errors or lines or [f"exit {proc.returncode}"])[-1]


def _pick_client() -> tuple[str | None, str]:
    """A client that reaches a daemon and can build with BuildKit, or None and the reason."""
    clients = _docker_clients()
    if not clients:
        return None, "no docker client installed"
    reasons: list[str] = []
    for docker in clients:
        err = _info_error(docker)
        if err is not None:
            reasons.append(f"`{docker} info`: {err}")
            continue
        if _client_builds_with_buildkit(docker):
            return docker, ""
        reasons.append(f"{docker} {_NO_BUILDKIT}")
    return None, "; ".join(reasons)


def host_debian_major() -> int | None:
    """12 on bookworm, 13 on trixie, None elsewhere."""
    try:
        text = Path("/etc/debian_version").read_text().strip()
    except OSError:
        return None
    if text.startswith("trixie"):
        return 13
    head = text.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _can_manage_engine() -> str | None:
    """None if we may install and start dockerd here, else why not."""
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    if os.geteuid() != 0:
        return "not root"
    if not Path("/etc/debian_version").exists():
        return "not Debian/Ubuntu (no /etc/debian_version)"
    return None


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise engine start-up and base image builds between processes (pytest workers, CI steps)."""
    try:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        fh = LOCKFILE.open("a")
    except PermissionError:  # made by root; we cannot start an engine anyway, so go unlocked
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _apt_install(*packages: str) -> None:
    """``apt-get install -y PACKAGES``; on failure run ``apt-get update`` and try once more."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", *packages]
    _log(f"installing {' '.join(packages)} with apt-get")
    start = time.monotonic()
    try:
        first = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT, check=False
        )
        if first.returncode != 0:
            _log("apt-get install failed; running apt-get update and retrying")
            subprocess.run(
                ["apt-get", "update"],
                capture_output=True,
                text=True,
                env=env,
                timeout=APT_TIMEOUT,
                check=False,
            )
            second = subprocess.run(
                argv, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT, check=False
            )
            if second.returncode != 0:
                raise EngineUnavailable(
                    f"`apt-get install -y {' '.join(packages)}` failed:\n"
                    + _tail(second.stdout + second.stderr, 15)
                )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EngineUnavailable(f"`apt-get install -y {' '.join(packages)}` failed: {e}") from e
    _log(f"installed {' '.join(packages)} in {time.monotonic() - start:.1f}s")


def _which(name: str) -> str | None:
    return shutil.which(name, path=_search_path())


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone; our own zombie child is reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def pid_from_file(pidfile: Path, program: bytes, marker: bytes) -> int | None:
    """The pid in `pidfile` if it still runs `program` with `marker` in its command line (a pid can be
    reused by something else), else None."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not cmdline or not cmdline[0].endswith(program) or not any(marker in arg for arg in cmdline):
        return None
    return pid


def _our_dockerd_pid() -> int | None:
    """The pid of a running dockerd started by this module (found by its dedicated --pidfile), else None."""
    return pid_from_file(PIDFILE, b"dockerd", f"--pidfile={PIDFILE}".encode())


def _dockerd_log_tail(lines: int = 20) -> str:
    try:
        return _tail(Path(LOGPATH_FILE.read_text().strip()).read_text(errors="replace"), lines)
    except OSError:
        return "(no dockerd log)"


def _start_dockerd() -> None:
    dockerd = _which("dockerd")
    if dockerd is None:
        raise EngineUnavailable("dockerd is not installed")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd, log_name = tempfile.mkstemp(prefix="dockerd-", suffix=".log", dir=STATE_DIR)
    LOGPATH_FILE.write_text(log_name + "\n")
    argv = [dockerd, *DOCKERD_FLAGS, f"--pidfile={PIDFILE}"]
    _log(f"starting {' '.join(argv)} (log: {log_name})")
    with os.fdopen(fd, "wb") as log:
        # Its own session, so that it outlives this process (the CLI's `up`, a pytest run).
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PATH": _search_path()},
        )


def ensure_engine() -> Engine:
    """A Docker engine that builds with BuildKit; start one if we can.  Raises EngineUnavailable."""
    docker, reason = _pick_client()
    if docker is not None:
        return Engine(docker, started_here=False)
    cannot = _can_manage_engine()
    if cannot is not None:
        raise EngineUnavailable(f"no usable Docker engine ({reason}) and cannot start one: {cannot}")
    with _locked():
        docker, reason = _pick_client()  # another process may have started it meanwhile
        if docker is not None:
            return Engine(docker, started_here=False)
        if _which("dockerd") is None or not Path("/usr/bin/docker").exists():
            # Debian 13 ships the client apart; Docker 23+ clients use BuildKit only through buildx.
            _apt_install("docker.io", *(("docker-cli", "docker-buildx") if host_debian_major() == 13 else ()))
            docker, reason = _pick_client()  # e.g. a daemon was there, only the client lacked BuildKit
            if docker is not None:
                return Engine(docker, started_here=False)
        if _NO_BUILDKIT in reason:  # a daemon runs; starting a second one would clash on its socket
            raise EngineUnavailable(f"{reason}; install docker-buildx or use Debian's docker.io client")
        pid = _our_dockerd_pid()
        if pid is not None:
            raise EngineUnavailable(
                f"dockerd (pid {pid}) started earlier does not answer: {reason}\n{_dockerd_log_tail()}"
            )
        start = time.monotonic()
        _start_dockerd()
        while time.monotonic() - start < START_TIMEOUT:
            time.sleep(0.2)
            docker, reason = _pick_client()
            if docker is not None:
                _log(f"dockerd answers after {time.monotonic() - start:.1f}s")
                return Engine(docker, started_here=True)
            if _our_dockerd_pid() is None and time.monotonic() - start > 5:
                break  # it died
        _stop_our_dockerd()
        raise EngineUnavailable(f"dockerd did not come up: {reason}\n{_dockerd_log_tail()}")


def _stop_our_dockerd() -> bool:
    """Stop the dockerd this module started (SIGTERM, then SIGKILL after 30 s).  False if there was none."""
    pid = _our_dockerd_pid()
    if pid is None:
        return False
    _log(f"stopping dockerd (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            _log("dockerd ignored SIGTERM; sending SIGKILL")
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.2)
    return True


def stop_engine(engine: Engine) -> None:
    """Stop dockerd if this module started it (``engine.started_here``); leave any other engine alone."""
    if engine.started_here:
        _stop_our_dockerd()


# ------------------------------------------------------------------------------------------ base image


def _rustc(*args: str) -> str:
    """Run the host's default rustc (via rustup if present) from ``/``, away from any rust-toolchain file."""
    rustc = _which("rustc") or str(Path.home() / ".cargo" / "bin" / "rustc")
    try:
        return subprocess.run(
            [rustc, *args], capture_output=True, text=True, timeout=60, check=True, cwd="/"
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise EngineUnavailable(
            f"cannot run the host's rustc ({e}); the base image copies its toolchain"
        ) from e


def _rustc_facts() -> dict[str, str]:
    """``rustc -vV`` as a dict (``release``, ``host``, ``commit-hash``, ...)."""
    facts: dict[str, str] = {}
    for line in _rustc("-vV").splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            facts[key.strip()] = value.strip()
    return facts


def base_tag() -> str:
    """``cargo-chefpy-e2e/rust:<host rustc release>-bookworm``, e.g. ``...rust:1.95.0-bookworm``."""
    release = _rustc_facts().get("release", "unknown")
    return f"{BASE_REPO}:{re.sub(r'[^A-Za-z0-9_.-]', '_', release)}-{SUITE}"


def __getattr__(name: str) -> str:
    # `BASE_TAG` depends on the host's rustc, so it is computed on first use rather than at import.
    if name == "BASE_TAG":
        return base_tag()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _apt_mirror(suite: str = SUITE) -> str:
    """The Debian mirror this machine's apt uses for ``suite`` (deb822 ``.sources`` or one-line ``.list``)."""
    files = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in {".list", ".sources"})
    for f in files:
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        if f.suffix == ".sources":
            for para in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in para.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if (
                    "deb" in fields.get("types", "").split()
                    and suite in fields.get("suites", "").split()
                    and fields.get("enabled", "yes").lower() != "no"
                    and fields.get("uris")
                ):
                    return fields["uris"].split()[0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                    return words[1]
    return DEFAULT_MIRROR


def _build_rootfs_image(engine: Engine) -> None:
    """debootstrap a minimal bookworm with gcc, libc6-dev and python3; ``docker import`` it as ROOTFS_TAG."""
    if os.geteuid() != 0:
        raise EngineUnavailable(f"building {ROOTFS_TAG} needs root (debootstrap)")
    if _which("debootstrap") is None:
        _apt_install("debootstrap")
    mirror = _apt_mirror()
    with tempfile.TemporaryDirectory(prefix="cargo-chefpy-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        argv = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(ROOTFS_PACKAGES)}",
            SUITE,
            str(root),
            mirror,
        ]
        keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
        if keyring.exists():
            argv.insert(1, f"--keyring={keyring}")
        _log(f"running {' '.join(argv)}")
        start = time.monotonic()
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
            env={**os.environ, "PATH": _search_path()},
        )
        if proc.returncode != 0:
            raise EngineUnavailable(f"debootstrap failed:\n{_tail(proc.stdout + proc.stderr, 20)}")
        _log(f"debootstrap took {time.monotonic() - start:.1f}s")
        # Drop what a build never needs: downloaded .debs, apt lists, documentation.
        for sub in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
        ):
            p = root / sub
            if p.is_dir():
                for child in p.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    elif child.name not in {"lock", "partial"}:
                        child.unlink()
        for pkgcache in (root / "var/cache/apt").glob("*.bin"):
            pkgcache.unlink()
        start = time.monotonic()
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        try:
            imp = subprocess.run(
                [*engine.cli, "import", "--message", f"debootstrap {SUITE} minbase", "-", ROOTFS_TAG],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar_rc = tar.wait()
        if tar_rc != 0 or imp.returncode != 0:
            raise EngineUnavailable(f"`tar | docker import` failed (tar {tar_rc}): {imp.stderr.strip()}")
        _log(f"imported {ROOTFS_TAG} in {time.monotonic() - start:.1f}s")


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _stage_toolchain(sysroot: Path, host: str, dest: Path) -> None:
    """Put what compiling needs from a rustup toolchain into ``dest``: cargo, rustc, libs, the host's std."""
    (dest / "bin").mkdir(parents=True)
    for tool in ("cargo", "rustc"):
        src = sysroot / "bin" / tool
        if not src.is_file():
            raise EngineUnavailable(f"{src} is missing; cannot build the base image")
        _link_or_copy(str(src), str(dest / "bin" / tool))
    (dest / "lib" / "rustlib").mkdir(parents=True)
    for lib in (sysroot / "lib").glob("*.so*"):
        if lib.is_file():
            _link_or_copy(str(lib), str(dest / "lib" / lib.name))
    std = sysroot / "lib" / "rustlib" / host
    if not std.is_dir():
        raise EngineUnavailable(f"{std} is missing; cannot build the base image")
    shutil.copytree(std, dest / "lib" / "rustlib" / host, symlinks=True, copy_function=_link_or_copy)


_BASE_DOCKERFILE = """\
FROM {rootfs}
COPY rust/ {rust_dir}/
ENV PATH={rust_dir}/bin:{cargo_home}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    CARGO_HOME={cargo_home} \\
    LANG=C.UTF-8
RUN mkdir -p {cargo_home}/bin \\
 && cargo --version && rustc --version && python3 --version \\
 && cargo new --quiet --vcs none /tmp/probe \\
 && cargo build --quiet --offline --manifest-path /tmp/probe/Cargo.toml \\
 && /tmp/probe/target/debug/probe \\
 && rm -rf /tmp/probe {cargo_home}/registry
LABEL {label}="{rustc_version}"
"""


def ensure_base_image(engine: Engine, tag: str | None = None) -> str:
    """Build (once) the local base image with the host's Rust toolchain, and return its tag.

    ``tag`` defaults to :func:`base_tag`.  An existing image is reused if it was made from the same rustc.
    """
    facts = _rustc_facts()
    if tag is None:
        tag = base_tag()
    rustc_version = _rustc("-V")
    if engine.image_label(tag, LABEL_RUSTC) == rustc_version:
        return tag
    with _locked():
        if engine.image_label(tag, LABEL_RUSTC) == rustc_version:
            return tag
        start = time.monotonic()
        if not engine.image_exists(ROOTFS_TAG):
            _build_rootfs_image(engine)
        sysroot = Path(_rustc("--print", "sysroot"))
        host = facts.get("host")
        if not host:
            raise EngineUnavailable("`rustc -vV` printed no host triple")
        with tempfile.TemporaryDirectory(prefix="cargo-chefpy-base-") as tmp:
            ctx = Path(tmp)
            _stage_toolchain(sysroot, host, ctx / "rust")
            (ctx / "Dockerfile").write_text(
                _BASE_DOCKERFILE.format(
                    rootfs=ROOTFS_TAG,
                    rust_dir=IMAGE_RUST_DIR,
                    cargo_home=IMAGE_CARGO_HOME,
                    label=LABEL_RUSTC,
                    rustc_version=rustc_version,
                )
            )
            _log(f"building {tag} from {sysroot}")
            try:
                result = engine.build(ctx, tag=tag, timeout=1800)
            except BuildFailed as e:
                raise EngineUnavailable(
                    f"building the base image {tag} failed:\n{_tail(e.output, 30)}"
                ) from e
        _log(f"built {tag} in {result.seconds:.1f}s (total {time.monotonic() - start:.1f}s)")
        return tag


# ------------------------------------------------------------------------------------------ CLI


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m integration.support.docker_engine up|down"
    if len(args) != 1 or args[0] not in {"up", "down"}:
        print(usage, file=sys.stderr)
        return 2
    if args[0] == "up":
        try:
            engine = ensure_engine()
            tag = ensure_base_image(engine)
        except EngineUnavailable as e:
            print(f"docker engine unavailable: {e}", file=sys.stderr)
            return 1
        _log(f"engine: {engine.docker} (started by this module: {engine.started_here})")
        print(tag)
        return 0
    if _stop_our_dockerd():
        _log("dockerd stopped")
    else:
        _log("no dockerd started by this module is running; nothing to stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
