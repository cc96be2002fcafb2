"""Stub artifacts are found from cargo's messages by unit hash, never by crate name."""

from __future__ import annotations

import sys
from pathlib import Path

from cargo_chefpy import artifacts
from cargo_chefpy.fsutil import make_dirs

STUB = "/w/src/fake-log"


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    return path


def test_stub_outputs_go_and_a_vendored_crate_of_the_same_name_stays(tmp_path: Path) -> None:
    release = tmp_path / "release"
    stub_lib = touch(release / "deps/libfake_log-1111111111111111.rlib")
    stub_d = touch(release / "deps/fake_log-1111111111111111.d")
    stub_fp = touch(release / ".fingerprint/fake-log-1111111111111111/lib-fake_log.json")
    bin_fp = touch(release / ".fingerprint/fake-log-3333333333333333/bin-fake-log.json")
    bin_deps = touch(release / "deps/fake_log-3333333333333333")
    uplifted = touch(release / "fake-log")
    vendored_lib = touch(release / "deps/libfake_log-2222222222222222.rlib")
    vendored_fp = touch(release / ".fingerprint/fake-log-2222222222222222/lib-fake_log.json")
    found = artifacts.StubArtifacts(stub_dirs=frozenset({STUB}))
    found.observe(
        {
            "reason": "compiler-artifact",
            "package_id": f"path+file://{STUB}#0.0.1",
            "manifest_path": f"{STUB}/Cargo.toml",
            "filenames": [str(stub_lib)],
        }
    )
    found.observe(
        {
            "reason": "compiler-artifact",
            "package_id": f"path+file://{STUB}#0.0.1",
            "manifest_path": f"{STUB}/Cargo.toml",
            "filenames": [str(uplifted)],
            "executable": str(uplifted),
        }
    )
    found.observe(
        {
            "reason": "compiler-artifact",
            "package_id": "registry+https://github.com/rust-lang/crates.io-index#fake-log@0.4.0",
            "manifest_path": "/w/vendored/fake-log/Cargo.toml",
            "filenames": [str(vendored_lib)],
        }
    )
    assert artifacts.remove(found, [release]) >= 5
    for gone in (stub_lib, stub_d, stub_fp.parent, bin_fp.parent, bin_deps, uplifted):
        assert not gone.exists(), gone
    assert vendored_lib.exists()
    assert vendored_fp.exists()


def test_a_stub_output_tree_deeper_than_the_recursion_limit_is_removed(deep_tmp: Path) -> None:
    unit = deep_tmp / "release" / "build" / "fake-log-1111111111111111"
    deep = unit / "/".join(["d"] * (sys.getrecursionlimit() + 100)) / "f"
    make_dirs(deep.parent)  # Path.mkdir(parents=True) recurses once per level
    deep.write_text("x")
    found = artifacts.StubArtifacts(stub_dirs=frozenset({STUB}))
    found.hashes.add("1111111111111111")
    assert deep.exists()
    assert artifacts.remove(found, [deep_tmp / "release"]) == 1
    assert not unit.exists()
