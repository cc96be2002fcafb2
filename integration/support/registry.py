"""A real image registry on loopback for the end-to-end tests: Debian's `docker-registry` (the distribution
registry, 2.8 on Debian 12 and 13), started on demand.

``ensure_registry()`` installs the package when it is missing (root on Debian only), writes its own
configuration (storage in a private directory, HTTP on ``127.0.0.1:PORT``: Docker engines treat loopback
registries as insecure, so no TLS is needed) and starts it in the background. ``stop_registry()`` stops the
one this module started, and nothing else.

CLI (for CI)::

    python -m integration.support.registry up     # prints the registry's address, e.g. 127.0.0.1:5055
    python -m integration.support.registry down
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from integration.support.docker_engine import (
    STATE_DIR,
    EngineUnavailable,
    _apt_install,
    _can_manage_engine,
    _locked,
    _log,
    _pid_alive,
    _search_path,
    pid_from_file,
)

REGISTRY_DIR = STATE_DIR / "registry"
PIDFILE = REGISTRY_DIR / "registry.pid"
ADDRESS_FILE = REGISTRY_DIR / "address"
START_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Registry:
    address: str  # host:port, e.g. 127.0.0.1:5055
    started_here: bool

    def ref(self, repository: str, tag: str) -> str:
        return f"{self.address}/{repository}:{tag}"


def _answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _our_pid() -> int | None:
    return pid_from_file(PIDFILE, b"docker-registry", str(REGISTRY_DIR).encode())


def _config(port: int) -> str:
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {REGISTRY_DIR / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: cargo-chefpy-e2e\n"
    )


def ensure_registry() -> Registry:
    """A registry on loopback; start one if none of ours runs. Raises EngineUnavailable (a skip reason)."""
    with _locked():
        pid = _our_pid()
        if pid is not None:
            address = ADDRESS_FILE.read_text().strip()
            if _answers(address):
                return Registry(address, started_here=False)
        binary = shutil.which("docker-registry", path=_search_path())
        if binary is None:
            cannot = _can_manage_engine()
            if cannot is not None:
                raise EngineUnavailable(f"docker-registry is not installed and cannot be: {cannot}")
            _apt_install("docker-registry")
            binary = shutil.which("docker-registry", path=_search_path())
            if binary is None:
                raise EngineUnavailable("docker-registry was installed but is not on PATH")
        REGISTRY_DIR.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        address = f"127.0.0.1:{port}"
        config = REGISTRY_DIR / "config.yml"
        config.write_text(_config(port))
        log = (REGISTRY_DIR / "registry.log").open("wb")
        _log(f"starting {binary} serve {config} on {address}")
        with log:
            proc = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this process (the CLI's `up`)
            )
        PIDFILE.write_text(f"{proc.pid}\n")
        ADDRESS_FILE.write_text(address + "\n")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if _answers(address):
                _log(f"registry answers on {address}")
                return Registry(address, started_here=True)
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        with contextlib.suppress(OSError):
            proc.kill()
        tail = (REGISTRY_DIR / "registry.log").read_text(errors="replace")[-2000:]
        raise EngineUnavailable(f"docker-registry did not come up on {address}:\n{tail}")


def stop_registry(registry: Registry | None = None) -> bool:
    """Stop the registry this module started (when `registry` is given, only if it started it here)."""
    if registry is not None and not registry.started_here:
        return False
    pid = _our_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        PIDFILE.unlink()
    shutil.rmtree(REGISTRY_DIR / "data", ignore_errors=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["up"]:
        try:
            print(ensure_registry().address)
        except EngineUnavailable as e:
            print(f"registry unavailable: {e}", file=sys.stderr)
            return 1
        return 0
    if args == ["down"]:
        _log("registry stopped" if stop_registry() else "no registry started by this module is running")
        return 0
    print("usage: python -m integration.support.registry up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
