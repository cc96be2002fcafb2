"""Docker engines of their own, standing in for CI runners and for a current Docker release.

A *runner* is a dockerd with its own socket, data root, exec root and pidfile, started inside a private
mount namespace (``unshare --mount``), so that its mounts vanish when it exits and the host's engine is
never touched. Two kinds:

- ``debian12``: Debian 12's ``docker.io`` 20.10 (BuildKit 0.8, no buildx);
- ``debian13``: Debian 13's ``docker.io`` 26.1 with ``docker-cli`` and ``docker-buildx`` 0.13.

A kind that matches the host runs the host's own binaries. Debian 13's engine on a Debian 12 host runs from
a debootstrapped Debian 13 root file system (``/var/lib/cargo-chefpy-e2e/trixie``, made once, ~30 s): its
dockerd is started with ``chroot``, and its client (a static Go binary) runs from the host with its buildx
plugin found through ``DOCKER_CONFIG``. Debian 12's engine on a Debian 13 host is not built: that host's
own engine is the current one, and the old one is covered on Debian 12 hosts.

``start_runner(name, kind, fresh=True)`` starts one with an empty data root; ``stop_runner`` stops it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from integration.support.docker_engine import (
    STATE_DIR,
    DockerError,
    Engine,
    EngineUnavailable,
    _apt_install,
    _apt_mirror,
    _can_manage_engine,
    _locked,
    _log,
    _pid_alive,
    _search_path,
    _tail,
    host_debian_major,
)

KINDS = ("debian12", "debian13")
VAR_DIR = Path("/var/lib/cargo-chefpy-e2e")
TRIXIE_ROOT = VAR_DIR / "trixie"
TRIXIE_READY = TRIXIE_ROOT / ".cargo-chefpy-ready"
TRIXIE_PACKAGES = ("docker.io", "docker-cli", "docker-buildx", "iptables")
DOCKERD_FLAGS = ("--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false")
START_TIMEOUT = 60.0


def available_kinds() -> list[str]:
    """The kinds this host can run: its own, and Debian 13's on a Debian 12 host."""
    major = host_debian_major()
    if major == 12:
        return ["debian12", "debian13"]
    if major == 13:
        return ["debian13"]
    return []


def _host_kind() -> str | None:
    major = host_debian_major()
    return f"debian{major}" if major in (12, 13) else None


def _run(argv: list[str], *, timeout: float, what: str) -> None:
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PATH": _search_path(), "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EngineUnavailable(f"{what} failed: {e}") from e
    if proc.returncode != 0:
        raise EngineUnavailable(f"{what} failed:\n{_tail(proc.stdout + proc.stderr, 20)}")


def ensure_trixie_root() -> Path:
    """Debian 13's root file system with its Docker engine and client, made once per machine."""
    if TRIXIE_READY.exists():
        return TRIXIE_ROOT
    cannot = _can_manage_engine()
    if cannot is not None:
        raise EngineUnavailable(f"cannot make Debian 13's root file system: {cannot}")
    with _locked():
        if TRIXIE_READY.exists():
            return TRIXIE_ROOT
        if shutil.which("debootstrap", path=_search_path()) is None:
            _apt_install("debootstrap")
        shutil.rmtree(TRIXIE_ROOT, ignore_errors=True)
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        argv = ["debootstrap", "--variant=minbase", "trixie", str(TRIXIE_ROOT), _apt_mirror("bookworm")]
        keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
        if keyring.exists():
            argv.insert(1, f"--keyring={keyring}")
        _log(f"running {' '.join(argv)}")
        _run(argv, timeout=1800, what="debootstrap trixie")
        # No service may start inside the chroot while packages install.
        policy = TRIXIE_ROOT / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        install = ["chroot", str(TRIXIE_ROOT), "apt-get", "install", "-y", "--no-install-recommends"]
        _run([*install, *TRIXIE_PACKAGES], timeout=1800, what="apt-get install in the trixie root")
        TRIXIE_READY.write_text("ready\n")
        _log(f"Debian 13's root file system is ready in {time.monotonic() - start:.1f}s")
    return TRIXIE_ROOT


class _Layout:
    """Where a runner keeps its state, as seen by its dockerd (`inner`) and from the host (`outer`)."""

    def __init__(self, name: str, root: Path | None) -> None:
        self.name, self.root = name, root
        base = f"/run/cargo-chefpy-{name}"
        self.inner_socket = f"{base}.sock"
        self.inner_pidfile = f"{base}.pid"
        self.inner_exec_root = f"/run/ccp-{name}"  # short: containerd's socket paths live under it
        self.inner_data_root = f"/var/lib/cargo-chefpy-runner-{name}"
        self.state = STATE_DIR / "runners" / name

    def outer(self, inner: str) -> Path:
        return Path(inner) if self.root is None else self.root / inner.lstrip("/")


def _client(kind: str) -> tuple[str, str | None]:
    """The docker client for this kind, and the DOCKER_CONFIG it needs (for Debian 13's buildx)."""
    if kind == _host_kind():
        docker = shutil.which("docker", path="/usr/bin:" + _search_path())
        if docker is None:
            raise EngineUnavailable("no docker client on this host")
        return docker, None
    root = ensure_trixie_root()
    return str(root / "usr/bin/docker"), str(root / "usr/libexec/docker/cli-plugins/docker-buildx")


def _dockerd_pid(layout: _Layout) -> int | None:
    try:
        pid = int(layout.outer(layout.inner_pidfile).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def start_runner(name: str, kind: str, *, fresh: bool = True) -> Engine:
    """A dockerd of `kind` under `name`, with an empty data root when `fresh`. Raises EngineUnavailable."""
    if kind not in available_kinds():
        raise EngineUnavailable(
            f"a {kind} engine cannot run on this host ({available_kinds() or 'not Debian'})"
        )
    cannot = _can_manage_engine()
    if cannot is not None:
        raise EngineUnavailable(f"cannot start a runner engine: {cannot}")
    if shutil.which("unshare", path=_search_path()) is None:
        raise EngineUnavailable("unshare (util-linux) is not installed")
    root = None if kind == _host_kind() else ensure_trixie_root()
    docker, plugin = _client(kind)
    layout = _Layout(name, root)
    stop_runner_named(name, kind)
    if fresh:
        shutil.rmtree(layout.outer(layout.inner_data_root), ignore_errors=True)
    for stale in (layout.inner_socket, layout.inner_pidfile):
        with contextlib.suppress(OSError):
            layout.outer(stale).unlink()
    layout.state.mkdir(parents=True, exist_ok=True)
    config = None
    if plugin is not None:  # the client looks for plugins in $DOCKER_CONFIG/cli-plugins
        plugins = layout.state / "config" / "cli-plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        link = plugins / "docker-buildx"
        with contextlib.suppress(OSError):
            link.unlink()
        link.symlink_to(plugin)
        config = str(layout.state / "config")
    dockerd = [
        "dockerd",
        *DOCKERD_FLAGS,
        f"--host=unix://{layout.inner_socket}",
        f"--data-root={layout.inner_data_root}",
        f"--exec-root={layout.inner_exec_root}",
        f"--pidfile={layout.inner_pidfile}",
    ]
    if root is None:
        script = 'exec "$@"'
    else:
        # Without the self bind mount, `docker import`/`load` fail with "remount /, flags: 0x84000".
        r = str(root)
        script = (
            f"mount --bind {r} {r} && mount -t proc proc {r}/proc && mount --rbind /sys {r}/sys"
            f' && mount --rbind /dev {r}/dev && exec chroot {r} "$@"'
        )
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *dockerd]
    log_path = layout.state / "dockerd.log"
    _log(f"starting the {kind} runner {name!r} (log: {log_path})")
    with log_path.open("wb") as log:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PATH": _search_path()},
        )
    host = f"unix://{layout.outer(layout.inner_socket)}"
    engine = Engine(docker, started_here=True, host=host, config=config, name=name)
    start = time.monotonic()
    while time.monotonic() - start < START_TIMEOUT:
        time.sleep(0.2)
        try:
            version = engine.docker_cmd("version", "--format", "{{.Server.Version}}", timeout=10).stdout
        except DockerError:
            continue
        version = version.strip()
        _log(f"the {kind} runner {name!r} answers after {time.monotonic() - start:.1f}s (Docker {version})")
        return Engine(docker, started_here=True, host=host, config=config, name=name, version=version)
    stop_runner_named(name, kind)
    raise EngineUnavailable(
        f"the {kind} runner {name!r} did not come up:\n{_tail(log_path.read_text(errors='replace'), 20)}"
    )


def stop_runner_named(name: str, kind: str) -> None:
    root = None if kind == _host_kind() or not TRIXIE_ROOT.exists() else TRIXIE_ROOT
    layout = _Layout(name, root)
    pid = _dockerd_pid(layout)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.2)


def stop_runner(engine: Engine, kind: str, *, remove_data: bool = True) -> None:
    """Stop the runner and, by default, free its data root."""
    stop_runner_named(engine.name, kind)
    if remove_data:
        root = None if kind == _host_kind() else TRIXIE_ROOT
        layout = _Layout(engine.name, root)
        shutil.rmtree(layout.outer(layout.inner_data_root), ignore_errors=True)


def copy_image(source: Engine, target: Engine, ref: str) -> None:
    """`docker save | docker load` from one engine to another (as a runner pulls its base image)."""
    if target.image_exists(ref):
        return
    start = time.monotonic()
    save = subprocess.Popen([*source.cli, "save", ref], stdout=subprocess.PIPE, env=source._env())
    try:
        load = subprocess.run(
            [*target.cli, "load"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            env=target._env(),
            check=False,
        )
    finally:
        if save.stdout is not None:
            save.stdout.close()
        saved = save.wait()
    if saved != 0 or load.returncode != 0:
        raise EngineUnavailable(f"copying {ref} to the {target.name} engine failed: {load.stderr.strip()}")
    _log(f"copied {ref} to the {target.name} engine in {time.monotonic() - start:.1f}s")


def stop_all() -> list[str]:
    """Stop every runner this module started (CI's clean-up after a run that died half-way)."""
    stopped = []
    runners = STATE_DIR / "runners"
    for state in sorted(runners.iterdir()) if runners.is_dir() else ():
        for kind in KINDS:
            root = None if kind == _host_kind() or not TRIXIE_ROOT.exists() else TRIXIE_ROOT
            if _dockerd_pid(_Layout(state.name, root)) is not None:
                stop_runner_named(state.name, kind)
                stopped.append(state.name)
    return stopped


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["down"]:
        print("usage: python -m integration.support.runners down", file=sys.stderr)
        sys.exit(2)
    _log(f"stopped runner engines: {', '.join(stop_all()) or 'none was running'}")
