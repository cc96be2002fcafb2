"""What cooked build scripts watch, how cook stamps it, and how build settles it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cargo_chefpy import stamp
from cargo_chefpy.build import settle
from cargo_chefpy.fsutil import FIXED_MTIME_NS, make_dirs
from cargo_chefpy.watch import BuildScripts, rerun_paths

NOW_NS = 1_700_000_000 * 1_000_000_000


def _artifact(package_id: str, manifest: Path, kind: str) -> dict[str, object]:
    # The fields cargo's compiler-artifact message carries that matter here (shape as cargo 1.95 prints it).
    return {
        "reason": "compiler-artifact",
        "package_id": package_id,
        "manifest_path": str(manifest),
        "target": {"kind": [kind], "crate_types": ["bin" if kind == "custom-build" else "lib"]},
        "fresh": True,
    }


def _executed(package_id: str, out_dir: Path) -> dict[str, object]:
    return {"reason": "build-script-executed", "package_id": package_id, "out_dir": str(out_dir), "env": []}


def _script(tmp: Path, crate_dir: Path, package_id: str, output: str | None) -> BuildScripts:
    scripts = BuildScripts()
    unit = tmp / "target" / "release" / "build" / f"{crate_dir.name}-0123456789abcdef"
    (unit / "out").mkdir(parents=True)
    if output is not None:
        (unit / "output").write_text(output)
    scripts.observe(_artifact(package_id, crate_dir / "Cargo.toml", "custom-build"))
    scripts.observe(_executed(package_id, unit / "out"))
    return scripts


def test_watched_paths_come_from_the_build_script_output(tmp_path: Path) -> None:
    root = tmp_path / "app"
    crate = root / "vendored" / "libc"
    crate.mkdir(parents=True)
    output = "\n".join(
        [
            "cargo:rustc-cfg=freebsd11",
            "cargo:rerun-if-changed=build.rs  \r",  # cargo trims the value's end
            "cargo::rerun-if-changed=src/probe",
            "cargo:rerun-if-changed=../shared/table.txt",
            f"cargo:rerun-if-changed={tmp_path / 'elsewhere.txt'}",  # outside the root: not ours to settle
            "cargo:rerun-if-changed=",
            "cargo:warning=rerun-if-changed=not/a/directive",
            "cargo:rerun-if-env-changed=LIBC_CHECK_CFG",
        ]
    )
    scripts = _script(
        tmp_path, crate, "registry+https://github.com/rust-lang/crates.io-index#libc@0.2.139", output
    )
    assert list(scripts.watched(str(root))) == [
        "vendored/libc/build.rs",
        "vendored/libc/src/probe",
        "vendored/shared/table.txt",
    ]


def test_stub_packages_and_the_target_dir_are_never_watched(tmp_path: Path) -> None:
    root = tmp_path / "app"
    stub = root / "src" / "libB"
    stub.mkdir(parents=True)
    scripts = _script(tmp_path, stub, "path+file:///app/src/libB#0.0.1", None)  # the stub's output: removed
    rooted = _script(tmp_path / "r", root, "path+file:///app#0.1.0", "cargo:rerun-if-changed=.\n")
    scripts.package_roots.update(rooted.package_roots)
    scripts.outputs.update(rooted.outputs)
    target = str(root / "target")
    assert list(scripts.watched(str(root), skip_packages={str(stub)}, skip_dirs=[target])) == []
    assert list(scripts.watched(str(root), skip_dirs=[target])) == ["src/libB"]


def test_an_unreadable_output_watches_the_whole_crate(tmp_path: Path) -> None:
    root = tmp_path / "app"
    crate = root / "vendored" / "serde"
    crate.mkdir(parents=True)
    scripts = _script(
        tmp_path, crate, "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.152", None
    )
    assert rerun_paths(str(tmp_path / "missing")) is None
    assert list(scripts.watched(str(root))) == ["vendored/serde"]


def test_packages_outside_the_root_and_libraries_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    registry = tmp_path / "cargo-home" / "registry" / "serde-1.0.152"
    registry.mkdir(parents=True)
    scripts = _script(tmp_path, registry, "registry+x#serde@1.0.152", "cargo:rerun-if-changed=build.rs\n")
    # a library's artifact message names no build script: no package root from it
    scripts.observe(_artifact("path+file:///app/src/libA#0.1.0", root / "src/libA/Cargo.toml", "lib"))
    scripts.observe(_executed("path+file:///app/src/libA#0.1.0", tmp_path / "x" / "out"))
    scripts.observe({"reason": "build-script-executed", "package_id": 3, "out_dir": None})
    assert list(scripts.watched(str(root))) == []


def test_digest_watched_walks_directories_and_skips_symlinks(tmp_path: Path) -> None:
    (tmp_path / "c" / "src" / "probe" / "arch").mkdir(parents=True)
    (tmp_path / "c" / "build.rs").write_text("fn main() {}\n")
    (tmp_path / "c" / "src" / "probe" / "arch" / "unix.txt").write_text("unix\n")
    (tmp_path / "c" / "src" / "probe" / "link").symlink_to("arch/unix.txt")
    files, dirs = stamp.digest_watched(
        tmp_path, ["c/build.rs", "c/src/probe", "c/missing.rs", "c/src/probe/link"]
    )
    assert sorted(files) == ["c/build.rs", "c/src/probe/arch/unix.txt"]
    assert files["c/build.rs"] == stamp.file_digest(tmp_path / "c" / "build.rs")
    assert sorted(dirs) == ["c/src/probe", "c/src/probe/arch"]
    assert dirs["c/src/probe"] != dirs["c/src/probe/arch"]
    assert dirs["c/src/probe"] == stamp.listing_digest(tmp_path / "c" / "src" / "probe")


def _stamp(files: dict[str, str], vendored: dict[str, str], dirs: dict[str, str]) -> stamp.Stamp:
    return stamp.Stamp(
        recipe="0" * 64,
        workspace=".",
        options={},
        packages=(),
        files=files,
        vendored=vendored,
        vendored_dirs=("vendored",),
        kept_crates=1,
        external_crates=0,
        dirs=dirs,
    )


def _mtime_ns(path: Path) -> int:
    return os.lstat(path).st_mtime_ns


def test_settle_fixes_unchanged_paths_and_leaves_changed_ones(tmp_path: Path) -> None:
    lib = tmp_path / "src" / "libB" / "src"
    probe = tmp_path / "vendored" / "libc" / "src" / "probe"
    lib.mkdir(parents=True)
    probe.mkdir(parents=True)
    (lib / "lib.rs").write_text("pub fn b() {}\n")
    (lib / "edited.rs").write_text("cooked\n")
    (probe / "unix.txt").write_text("unix\n")
    files, dirs = stamp.digest_watched(
        tmp_path, ["src/libB/src/lib.rs", "src/libB/src/edited.rs", "vendored/libc/src/probe"]
    )
    kept = {k: v for k, v in files.items() if k.startswith("src/")}
    vendored = {k: v for k, v in files.items() if k.startswith("vendored/")}
    other = tmp_path / "vendored" / "libc" / "src"
    (other / "gone").mkdir()
    dirs.update(stamp.digest_watched(tmp_path, ["vendored/libc/src/gone"])[1])
    kept["src/libB/src/missing.rs"] = "0" * 64
    # the final stage's checkout: one file edited, one watched directory gained an entry, one lost
    (lib / "edited.rs").write_text("edited\n")
    (other / "gone").rmdir()
    (probe / "new.txt").write_text("new\n")
    (probe / "new.txt").unlink()
    (lib / "link.rs").symlink_to("lib.rs")
    kept["src/libB/src/link.rs"] = stamp.file_digest(lib / "lib.rs")
    for path in (lib / "lib.rs", lib / "edited.rs", probe / "unix.txt", probe):
        os.utime(path, ns=(NOW_NS, NOW_NS))

    result = settle(_stamp(kept, vendored, dirs), tmp_path)

    assert _mtime_ns(lib / "lib.rs") == FIXED_MTIME_NS
    assert _mtime_ns(probe / "unix.txt") == FIXED_MTIME_NS
    assert _mtime_ns(probe) == FIXED_MTIME_NS  # same entries as at cook, though its mtime moved
    assert _mtime_ns(lib / "edited.rs") == NOW_NS
    assert _mtime_ns(lib / "link.rs") != FIXED_MTIME_NS  # a symlink is never followed nor settled
    assert (result.unchanged, result.changed, result.missing) == (3, 1, 3)


def test_settle_leaves_a_watched_directory_whose_entries_changed(tmp_path: Path) -> None:
    probe = tmp_path / "vendored" / "libc" / "src" / "probe"
    probe.mkdir(parents=True)
    (probe / "unix.txt").write_text("unix\n")
    files, dirs = stamp.digest_watched(tmp_path, ["vendored/libc/src/probe"])
    (probe / "windows.txt").write_text("windows\n")
    os.utime(probe, ns=(NOW_NS, NOW_NS))
    result = settle(_stamp({}, files, dirs), tmp_path)
    assert _mtime_ns(probe) == NOW_NS
    assert _mtime_ns(probe / "unix.txt") == FIXED_MTIME_NS
    assert (result.unchanged, result.changed, result.missing) == (1, 1, 0)


def test_digest_watched_reads_a_directory_deeper_than_the_recursion_limit(deep_tmp: Path) -> None:
    deep = "/".join(["d"] * (sys.getrecursionlimit() + 100))
    make_dirs(deep_tmp / "w" / deep)  # Path.mkdir(parents=True) recurses once per level
    (deep_tmp / "w" / deep / "f").write_text("x")
    files, dirs = stamp.digest_watched(deep_tmp, ["w"])
    assert list(files) == [f"w/{deep}/f"]
    assert f"w/{deep}" in dirs
