"""Real-cargo checks of the workspace generator in integration/support/workspaces.py."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from integration.support.workspaces import (
    ALL_OPTIONS,
    CAPTURE_VARIANTS,
    CHECKSUM_FILE,
    DEFAULT_REGISTRY,
    SERVICES,
    FakeCrate,
    Seed,
    SeedOptions,
    capture_metadata,
    copy_tree,
    registry_dir_names,
    run_cargo,
    seed_files,
    set_all_mtimes,
    write_registry,
    write_seed,
)

CARGO = os.environ.get("CARGO", "cargo")
needs_cargo = pytest.mark.skipif(shutil.which(CARGO) is None, reason=f"{CARGO} not found on PATH")
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


@pytest.fixture(scope="module")
def cargo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One target dir for the module: the vendored crates compile once."""
    return {"CARGO_TARGET_DIR": str(tmp_path_factory.mktemp("target"))}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def build_and_run(seed: Seed, env: dict[str, str]) -> dict[str, str]:
    """`cargo build --offline --locked --workspace`, then each service's output line."""
    run_cargo(["build", "--offline", "--locked", "--workspace"], seed.root, env)
    binaries = Path(env["CARGO_TARGET_DIR"]) / "debug"
    return {
        name: subprocess.run(
            [str(binaries / name)], capture_output=True, text=True, check=True
        ).stdout.rstrip("\n")
        for name in SERVICES
    }


def test_registry_layout_and_checksums(tmp_path: Path) -> None:
    second_log = FakeCrate(name="fake-log", version="0.3.9", extra_files={"data/input.txt": "x\n"})
    crates = (*DEFAULT_REGISTRY, second_log)
    write_registry(tmp_path, crates)

    names = registry_dir_names(crates)
    assert names[("fake-log", "0.4.0")] == "fake-log-0.4.0"
    assert names[("fake-log", "0.3.9")] == "fake-log-0.3.9"
    assert names[("fake-serde", "1.0.0")] == "fake-serde"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names.values())
    for crate in crates:
        crate_dir = tmp_path / names[(crate.name, crate.version)]
        checksums = json.loads((crate_dir / CHECKSUM_FILE).read_text())
        files = {k: v for k, v in tree(crate_dir).items() if k != CHECKSUM_FILE}
        assert checksums["files"] == {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
        assert checksums["package"] == crate.package_checksum
        assert len(crate.package_checksum) == 64
    manifest = tomllib.loads((tmp_path / "fake-derive" / "Cargo.toml").read_text())
    assert manifest["lib"]["proc-macro"] is True
    assert "build.rs" in tree(tmp_path / "fake-libc")
    assert (tmp_path / "fake-log-0.3.9" / "data" / "input.txt").read_text() == "x\n"
    with pytest.raises(ValueError, match="duplicate"):
        registry_dir_names((second_log, second_log))


def test_generator_is_byte_deterministic(tmp_path: Path) -> None:
    for i, options in enumerate((SeedOptions(), ALL_OPTIONS)):
        first = write_seed(tmp_path / f"a{i}" / "ws", options, lock=False)
        second = write_seed(tmp_path / f"b{i}" / "ws", options, lock=False)
        assert tree(first.root) == tree(second.root)
        assert (first.outside is None) == (second.outside is None) == (not options.outside_dep)
        if first.outside is not None and second.outside is not None:
            assert tree(first.outside) == tree(second.outside)
            assert first.outside == first.root.parent / "outside-ws"


@needs_cargo
def test_lock_files_are_deterministic(tmp_path: Path) -> None:
    first = write_seed(tmp_path / "a" / "ws", ALL_OPTIONS)
    second = write_seed(tmp_path / "b" / "ws", ALL_OPTIONS)
    assert (first.root / "Cargo.lock").read_bytes() == (second.root / "Cargo.lock").read_bytes()


def test_seed_sources_carry_the_literals_tests_edit() -> None:
    files, outside = seed_files()
    assert outside == {}
    for service in SERVICES:
        main = files[f"src/{service}/src/main.rs"]
        assert main.count(f'"{service} says hello"') == 1
        assert f"src/{service}/Dockerfile" in files
    for lib in ("libA", "libB", "libC"):
        assert files[f"src/{lib}/src/lib.rs"].count(f'pub const GREETING: &str = "{lib} v1";') == 1
    root_manifest = tomllib.loads(files["Cargo.toml"])
    assert root_manifest["patch"]["crates-io"]["fake-patched"] == {"path": "rust-patches/fake-patched"}
    assert "rust-patches/fake-patched/Cargo.toml" in files


@needs_cargo
def test_default_seed_builds_locked(tmp_path: Path, cargo_env: dict[str, str]) -> None:
    seed = write_seed(tmp_path / "ws")
    assert seed.outside is None
    lock = tomllib.loads((seed.root / "Cargo.lock").read_text())
    vendored = {(c.name, c.version): c.package_checksum for c in DEFAULT_REGISTRY}
    for package in lock["package"]:
        if "source" in package:
            assert package["checksum"] == vendored[(package["name"], package["version"])]
    assert ("fake-extra", "0.1.0") not in {(p["name"], p["version"]) for p in lock["package"]}

    lines = build_and_run(seed, cargo_env)
    assert lines["serviceZ"].startswith("serviceZ 0.3.0: serviceZ says hello; b=libB v1 + libA v1 ")
    assert "patched=fake-patched v1 (local patch)" in lines["serviceZ"]
    assert lines["serviceY"].startswith("serviceY 0.2.0: serviceY says hello; a=libA v1 ")
    assert "answer=42" in lines["serviceY"]
    assert lines["serviceX"].startswith("serviceX 0.2.0: serviceX says hello; a=libA v1 (log=info, page=")


@needs_cargo
def test_vendored_checksums_are_enforced(tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "ws")
    with (seed.root / "vendored" / "fake-log" / "src" / "lib.rs").open("a") as lib:
        lib.write("// edited\n")
    env = {"CARGO_TARGET_DIR": str(tmp_path / "target")}
    with pytest.raises(AssertionError, match="checksum"):
        run_cargo(["build", "--offline", "--locked", "-p", "fake-log"], seed.root, env)


@needs_cargo
def test_all_options_variant_builds(tmp_path: Path, cargo_env: dict[str, str]) -> None:
    seed = write_seed(tmp_path / "ws", ALL_OPTIONS)
    assert seed.outside is not None
    assert (seed.outside / "Cargo.toml").is_file()
    lock = tomllib.loads((seed.root / "Cargo.lock").read_text())
    assert sorted(p["version"] for p in lock["package"] if p["name"] == "fake-log") == ["0.1.0", "0.4.0"]

    lines = build_and_run(seed, cargo_env)
    z = lines["serviceZ"]
    assert "build=libB build.rs v1/true" in z
    assert "macro=LIBB IS LOUD" in z
    assert "outside=libOutside v1" in z
    assert "extra=off local-log=local fake-log v1 vendored-log=info" in lines["serviceX"]
    extra = run_cargo(
        ["run", "--offline", "--locked", "-q", "-p", "serviceX", "--features", "extra"], seed.root, cargo_env
    )
    assert "extra=libC v1" in extra.stdout


@needs_cargo
def test_stale_version_and_plain_build_script_build(tmp_path: Path, cargo_env: dict[str, str]) -> None:
    options = SeedOptions(service_z_version="0.0.1", lib_build_script="plain", dev_build_target_deps=False)
    seed = write_seed(tmp_path / "ws", options)
    build_rs = (seed.root / "src" / "libB" / "build.rs").read_text()
    assert "rerun-if-changed" not in build_rs
    assert build_and_run(seed, cargo_env)["serviceZ"].startswith("serviceZ 0.0.1: serviceZ says hello")


@needs_cargo
@pytest.mark.parametrize("variant", sorted(CAPTURE_VARIANTS))
def test_captured_metadata_is_current(tmp_path: Path, variant: str) -> None:
    seed = write_seed(tmp_path.resolve() / "ws", CAPTURE_VARIANTS[variant])
    text = capture_metadata(seed)
    assert str(tmp_path) not in text
    assert json.loads(text)["workspace_root"] == "@ROOT@"
    stored = DATA / f"{variant}.json"
    assert stored.read_text() == text, (
        f"{stored} is stale: run `python -m integration.support.workspaces capture tests/data`"
    )


def test_copy_tree_and_mtimes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a" / "target").mkdir(parents=True)
    (src / "a" / "f.txt").write_text("f")
    (src / "a" / "target" / "junk").write_text("j")
    (src / "g.txt").write_text("g")
    old = 1_000_000_000.5
    set_all_mtimes(src, old)
    assert {p.stat().st_mtime for p in (src, src / "a", src / "a" / "f.txt")} == {old}

    kept = tmp_path / "kept"
    copy_tree(src, kept, preserve_mtimes=True)
    assert tree(kept) == tree(src)
    assert (kept / "a" / "f.txt").stat().st_mtime_ns == (src / "a" / "f.txt").stat().st_mtime_ns

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "untouched.txt").write_text("u")
    os.utime(fresh / "untouched.txt", (old, old))
    before = time.time() - 1
    copy_tree(src, fresh, preserve_mtimes=False, exclude=("target",))
    assert not (fresh / "a" / "target").exists()
    copied = [fresh / "a" / "f.txt", fresh / "g.txt", fresh / "a"]
    stamps = {p.stat().st_mtime_ns for p in copied}
    assert len(stamps) == 1
    assert stamps.pop() / 1e9 > before
    assert (fresh / "untouched.txt").stat().st_mtime == old
