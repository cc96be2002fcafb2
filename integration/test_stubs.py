"""No stub outlives the final stage: real cargo through the simulated Docker flow, on workspace shapes
whose targets sit at non-standard paths (ripgrep's `rg` at `crates/core/main.rs`, no `src/`), custom
lib and build-script paths, bins in `src/bin/`, a `required-features` bin, examples and tests, and a bin
outside its package directory.

Each run checks the real binary's output, that only the edited crate compiled, that no file with a
stub's text is left outside `target/`, and that the only executables under `target/` are the real ones.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from cargo_chefpy.manifest import STUB_LIB, STUB_MAIN
from integration.support.flow import DockerFlow, FinalStage, chefpy
from integration.support.workspaces import CARGO_CONFIG, DEFAULT_REGISTRY, run_cargo, write_registry
from integration.test_cook_build import host_triple

BOTH_MODES = pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
STUB_TEXTS = {STUB_LIB.encode(), STUB_MAIN.encode()}

GREP = {
    "crates/grep/Cargo.toml": '[package]\nname = "grep"\nversion = "0.2.0"\nedition = "2021"\n\n'
    '[dependencies]\nfake-log = "0.4"\n',
    "crates/grep/src/lib.rs": 'pub fn grep() -> &\'static str {\n    "grep v1"\n}\n',
}

# ripgrep 13's shape: the root package's only bin `rg` at crates/core/main.rs, no src/ at all, a build
# script at the root, an integration test in tests/, and a library member under crates/.
RIPGREP = {
    "Cargo.toml": """\
[package]
name = "ripgrep"
version = "13.0.0"
edition = "2021"
build = "build.rs"

[[bin]]
name = "rg"
path = "crates/core/main.rs"

[workspace]
members = ["crates/grep"]

[dependencies]
grep = { path = "crates/grep", version = "0.2.0" }
fake-log = "0.4"
""",
    "build.rs": 'fn main() {\n    println!("cargo:rustc-env=RG_BUILD=real-build");\n}\n',
    "crates/core/main.rs": 'mod app;\n\nfn main() {\n    println!("rg says hello {} {} {}", app::APP, '
    'grep::grep(), env!("RG_BUILD"));\n}\n',
    "crates/core/app.rs": 'pub const APP: &str = "app-v1";\n',
    "tests/integration.rs": "#[test]\nfn it_runs() {}\n",
    **GREP,
}

# A member with every target somewhere cargo would not look by default, or in src/bin/: a lib at
# lib/app.rs, a build script at tools/build.rs, bins in src/bin/, a bin that needs a feature, an example
# and a test (autoexamples, autotests).
SEVERAL = {
    "Cargo.toml": '[workspace]\nresolver = "2"\nmembers = ["app", "crates/grep"]\n',
    "app/Cargo.toml": """\
[package]
name = "app"
version = "0.1.0"
edition = "2021"
build = "tools/build.rs"

[lib]
path = "lib/app.rs"

[[bin]]
name = "extra"
path = "extra/main.rs"
required-features = ["extra"]

[features]
extra = []

[dependencies]
grep = { path = "../crates/grep" }
""",
    "app/lib/app.rs": 'pub fn app() -> String {\n    format!("app says hello {}", env!("APP_BUILD"))\n}\n',
    "app/tools/build.rs": 'fn main() {\n    println!("cargo:rustc-env=APP_BUILD=real-build");\n}\n',
    "app/src/bin/one.rs": 'fn main() {\n    println!("one: {} {}", app::app(), grep::grep());\n}\n',
    "app/src/bin/two.rs": 'fn main() {\n    println!("two: {}", app::app());\n}\n',
    "app/extra/main.rs": 'fn main() {\n    println!("extra: {}", app::app());\n}\n',
    "app/examples/demo.rs": 'fn main() {\n    println!("demo");\n}\n',
    "app/tests/it.rs": "#[test]\nfn it_runs() {}\n",
    **GREP,
}

# A bin whose source is outside its package directory: its stub goes to a safe in-package path, which
# build removes.
OUTSIDE = {
    "Cargo.toml": '[workspace]\nresolver = "2"\nmembers = ["svc", "crates/grep"]\n',
    "svc/Cargo.toml": """\
[package]
name = "svc"
version = "0.1.0"
edition = "2021"

[[bin]]
name = "svc"
path = "../shared/svc_main.rs"

[dependencies]
grep = { path = "../crates/grep" }
""",
    "shared/svc_main.rs": 'fn main() {\n    println!("svc says hello {}", grep::grep());\n}\n',
    **GREP,
}


def write_workspace(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".cargo").mkdir(exist_ok=True)
    (root / ".cargo/config.toml").write_text(CARGO_CONFIG)
    write_registry(root / "vendored", DEFAULT_REGISTRY)
    run_cargo(["generate-lockfile", "--offline"], root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def stub_leftovers(workdir: Path) -> list[str]:
    """Files outside target/ whose bytes are a stub's."""
    found = []
    for directory, dirnames, filenames in os.walk(workdir):
        dirnames[:] = [d for d in dirnames if d != "target"]
        for name in filenames:
            path = Path(directory, name)
            if path.stat().st_size < 200 and path.read_bytes() in STUB_TEXTS:
                found.append(path.relative_to(workdir).as_posix())
    return sorted(found)


def executables(target: Path) -> dict[str, set[str]]:
    """Every executable file under `target` except build scripts, as {directory relative to target:
    names}, with cargo's `-<hash>` suffix cut from names in deps/ (a test harness keeps it: none here)."""
    found: dict[str, set[str]] = {}
    for directory, dirnames, filenames in os.walk(target):
        dirnames[:] = [d for d in dirnames if d not in ("build", ".fingerprint", "incremental")]
        for name in filenames:
            path = Path(directory, name)
            if "." in name or not stat.S_ISREG(path.lstat().st_mode) or not os.access(path, os.X_OK):
                continue
            rel = Path(directory).relative_to(target).as_posix()
            found.setdefault(rel, set()).add(name.rsplit("-", 1)[0] if rel.endswith("deps") else name)
    return found


def check_no_dummy(stage: FinalStage, profile: str, real: Mapping[str, str]) -> None:
    """The only executables anywhere under target/ are the real bins `real` (name -> expected output),
    each prints its real output, and no file with a stub's text is left outside target/."""
    assert stub_leftovers(stage.workdir) == []
    target = stage.workspace / "target"
    found = executables(target)
    names = set().union(*found.values()) if found else set()
    assert names == set(real), f"executables under target/: {found}"
    for name, expected in real.items():
        binary = target / profile / name
        out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
        assert expected in out, f"{binary} printed {out!r}, not {expected!r}"


def flow(tmp: Path, root: Path, target: list[str], cargo: list[str] | None = None) -> DockerFlow:
    args = ["--release", *target] if cargo is None else cargo
    return DockerFlow(tmp, root, prepare_args=target, cook_args=args, build_args=args)


@BOTH_MODES
def test_ripgrep_shaped_workspace_ships_only_the_real_rg_and_compiles_only_ripgrep_after_an_edit(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    root = write_workspace(tmp_path / "context" / "ws", RIPGREP)
    f = flow(tmp_path, root, ["-p", "ripgrep"])
    f.cook(f.prepare())
    edit(root / "crates/core/app.rs", "app-v1", "app-v2")
    assert f.cook(f.prepare()), "an edit to the stubbed package's sources must leave the recipe unchanged"
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"ripgrep"}
    check_no_dummy(stage, "release", {"rg": "rg says hello app-v2 grep v1 real-build"})


@BOTH_MODES
@pytest.mark.parametrize("target", [["-p", "app"], ["--bin", "one"]], ids=["package", "bin"])
def test_custom_lib_and_build_script_paths_bins_in_src_bin_and_a_required_features_bin_leave_no_stub(
    tmp_path: Path, preserve_mtimes: bool, target: list[str]
) -> None:
    root = write_workspace(tmp_path / "context" / "ws", SEVERAL)
    f = flow(tmp_path, root, target, ["--release", "-p", "app"])
    f.cook(f.prepare())
    edit(root / "app/lib/app.rs", "app says hello", "app says hi")
    assert f.cook(f.prepare())
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"app"}
    real = {"one": "one: app says hi real-build grep v1", "two": "two: app says hi real-build"}
    check_no_dummy(stage, "release", real)
    # The bin that needs a feature is the real one too when the feature is on.
    with_feature = f.final(preserve_mtimes=preserve_mtimes, extra_build_args=["--features", "extra"])
    check_no_dummy(with_feature, "release", {**real, "extra": "extra: app says hi real-build"})


@BOTH_MODES
def test_a_bin_outside_its_package_gets_an_in_package_stub_that_build_removes(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    root = write_workspace(tmp_path / "context" / "ws", OUTSIDE)
    f = flow(tmp_path, root, ["-p", "svc"])
    f.cook(f.prepare())
    cooked_stubs = stub_leftovers(f.snapshot)
    assert cooked_stubs == ["svc/.cargo-chefpy-stub/bin-0.rs"]
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"svc"}
    check_no_dummy(stage, "release", {"svc": "svc says hello grep v1"})
    assert "Removed 1 stub file(s)" in stage.stderr
    assert not (stage.workspace / "svc" / ".cargo-chefpy-stub").exists()


def test_cook_with_release_after_the_double_dash_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    root = write_workspace(tmp_path / "context" / "ws", RIPGREP)
    f = flow(tmp_path, root, ["-p", "ripgrep"])
    recipe = f.prepare()
    f.workdir.mkdir(parents=True)
    (f.workdir / "recipe.json").write_bytes(recipe)
    proc = chefpy(["cook", "-p", "ripgrep", "--", "--release"], f.workdir)
    assert proc.returncode == 2, proc.stderr
    assert "error: --release after `--`" in proc.stderr
    assert "hint: pass --release before `--`" in proc.stderr
    assert sorted(p.name for p in f.workdir.iterdir()) == ["recipe.json"]


@pytest.mark.parametrize("how", ["env-target", "config-target", "custom-profile", "build-dir"])
def test_stub_outputs_are_removed_wherever_cargo_put_them(tmp_path: Path, how: str) -> None:
    """The cleanup acts on the directories cargo reported, whatever decided them: CARGO_BUILD_TARGET,
    `build.target` in .cargo/config.toml, a custom profile, or a build dir apart from the target dir."""
    files = dict(RIPGREP)
    triple = host_triple()
    env = dict(os.environ)
    cargo = ["--release", "-p", "ripgrep"]
    profile = f"{triple}/release"
    if how == "env-target":
        env["CARGO_BUILD_TARGET"] = triple
    elif how == "build-dir":
        env["CARGO_BUILD_BUILD_DIR"] = str(tmp_path / "app" / "build-dir")
        profile = "release"
    elif how == "custom-profile":
        files["Cargo.toml"] += '\n[profile.fast]\ninherits = "release"\nopt-level = 1\n'
        cargo = ["--profile", "fast", "-p", "ripgrep"]
        profile = "fast"
    root = write_workspace(tmp_path / "context" / "ws", files)
    if how == "config-target":
        with (root / ".cargo/config.toml").open("a") as handle:
            handle.write(f'\n[build]\ntarget = "{triple}"\n')
    f = DockerFlow(tmp_path, root, prepare_args=["-p", "ripgrep"], cook_args=cargo, build_args=cargo, env=env)
    f.cook(f.prepare())
    # Nothing of the stubbed package survives cook, wherever cargo put it (the stale-dummy trap).
    cooked = [p for p in f.snapshot.rglob("*ripgrep*") if "vendored" not in p.parts]
    assert cooked == [], cooked
    cooked_rg = [p for p in f.snapshot.rglob("rg*") if "vendored" not in p.parts and p.is_file()]
    assert cooked_rg == [], cooked_rg
    stage = f.final(preserve_mtimes=True)
    assert stage.compiled == {"ripgrep"}
    check_no_dummy(stage, profile, {"rg": "rg says hello app-v1 grep v1 real-build"})


def test_build_removes_only_stub_files_still_byte_identical_and_keeps_a_directory_with_a_user_file(
    tmp_path: Path,
) -> None:
    root = write_workspace(tmp_path / "context" / "ws", OUTSIDE)
    f = flow(tmp_path, root, ["-p", "svc"])
    f.cook(f.prepare())
    (leftover,) = stub_leftovers(f.snapshot)
    (f.snapshot / leftover).parent.joinpath("notes.txt").write_text("mine\n")
    stage = f.final(preserve_mtimes=False)
    assert not (stage.workdir / leftover).exists()
    assert (stage.workdir / leftover).parent.joinpath("notes.txt").read_text() == "mine\n"
    assert "Removed 1 stub file(s) that the final sources did not replace" in stage.stderr
