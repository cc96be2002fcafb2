"""cook + build through a simulated Docker flow with real cargo: only the edited crate recompiles.

Each test states one row of the cook/build issue's scenario table. "Compiled" is read from cargo's
own `Compiling` lines in the final stage.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.support.flow import DockerFlow, FinalStage, chefpy, ok
from integration.support.workspaces import SeedOptions, set_all_mtimes, write_seed

BOTH_MODES = pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
OLD = 1_000_000_000.0  # 2001: older than any build output


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("host: "))


def seed(tmp: Path, **options: object) -> Path:
    root = tmp / "context" / "ws"
    write_seed(root, SeedOptions(**options))  # type: ignore[arg-type]
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def flow(tmp: Path, root: Path, target: list[str], cook: list[str] | None = None, **kw: object) -> DockerFlow:
    cargo = ["--release", *target] if cook is None else cook
    return DockerFlow(tmp, root, prepare_args=target, cook_args=cargo, build_args=cargo, **kw)  # type: ignore[arg-type]


def first_then(
    tmp: Path,
    root: Path,
    change: Callable[[Path], None],
    *,
    preserve_mtimes: bool,
    target: list[str] | None = None,
) -> tuple[DockerFlow, bool, FinalStage]:
    f = flow(tmp, root, target or ["-p", "serviceZ"])
    f.cook(f.prepare())
    change(root)
    reused = f.cook(f.prepare())
    return f, reused, f.final(preserve_mtimes=preserve_mtimes)


def edit_service_z_and_check(tmp: Path, root: Path, word: str, *, preserve_mtimes: bool) -> tuple[bool, str]:
    """Cook, edit serviceZ's message, go through the flow again: exactly serviceZ compiles, and the binary
    is the real, edited one. Returns whether the cooked layer was reused, and the binary's output."""
    f, reused, stage = first_then(
        tmp,
        root,
        lambda r: edit(r / "src/serviceZ/src/main.rs", "serviceZ says hello", f"serviceZ says {word}"),
        preserve_mtimes=preserve_mtimes,
    )
    assert stage.compiled == {"serviceZ"}
    output = f.run_binary(stage, "serviceZ")
    assert f"serviceZ says {word}" in output
    assert "Settled" in stage.stderr
    return reused, output


@BOTH_MODES
def test_only_service_z_compiles_after_an_edit_to_service_z(tmp_path: Path, preserve_mtimes: bool) -> None:
    reused, _ = edit_service_z_and_check(tmp_path, seed(tmp_path), "bonjour", preserve_mtimes=preserve_mtimes)
    assert reused, "an edit to the stubbed crate must leave the recipe, and so the cooked layer, unchanged"


@BOTH_MODES
def test_edit_to_kept_lib_b_recooks_and_final_stage_compiles_only_service_z(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    root = seed(tmp_path)
    f, reused, stage = first_then(
        tmp_path,
        root,
        lambda r: edit(r / "src/libB/src/lib.rs", '"libB v1"', '"libB v2"'),
        preserve_mtimes=preserve_mtimes,
    )
    assert not reused, "a kept crate's file is in the recipe: editing it must invalidate the cooked layer"
    assert stage.compiled == {"serviceZ"}
    assert "libB v2" in f.run_binary(stage, "serviceZ")


@pytest.mark.parametrize("where", ["src/serviceX/src/main.rs", "src/serviceY/Cargo.toml"])
def test_edit_to_an_unrelated_service_reuses_the_cooked_layer(tmp_path: Path, where: str) -> None:
    root = seed(tmp_path)

    def change(r: Path) -> None:
        with (r / where).open("a") as handle:
            handle.write("\n# an unrelated edit\n" if where.endswith(".toml") else "\n// an unrelated edit\n")

    f, reused, stage = first_then(tmp_path, root, change, preserve_mtimes=False)
    assert reused
    assert stage.compiled == {"serviceZ"}
    assert f.cooks == 1


def test_ci_checkout_recompiles_no_vendored_crate_with_rerun_if_changed(tmp_path: Path) -> None:
    root = seed(tmp_path)
    f = flow(tmp_path, root, ["-p", "serviceZ"])
    f.cook(f.prepare())
    stage = f.final(preserve_mtimes=False)
    # fake-serde and fake-libc print cargo:rerun-if-changed, like serde and libc do; fake-libc also
    # watches a directory (src/probe), whose directories' own mtimes count too.
    assert not stage.compiled & {"fake-serde", "fake-libc", "fake-json", "fake-log", "fake-derive"}
    assert stage.compiled == {"serviceZ"}


def test_the_stamp_holds_exactly_the_vendored_paths_that_cooked_build_scripts_watch(tmp_path: Path) -> None:
    """Cargo checks a vendored crate's files by mtime only where its build script says rerun-if-changed:
    those are what build settles, instead of hashing every vendored file on every final stage."""
    root = seed(tmp_path)
    f = flow(tmp_path, root, ["-p", "serviceZ"])
    f.cook(f.prepare())
    st = json.loads((f.workdir / "target" / "cargo-chefpy-stamp.json").read_text())
    assert sorted(st["vendored"]) == [
        "vendored/fake-libc/build.rs",
        "vendored/fake-libc/src/data.txt",
        "vendored/fake-libc/src/probe/arch/unix.txt",
        "vendored/fake-serde/build.rs",
    ]
    assert sorted(st["dirs"]) == ["vendored/fake-libc/src/probe", "vendored/fake-libc/src/probe/arch"]
    assert "src/libB/src/lib.rs" in st["files"]  # every file of a kept crate, as before


def test_a_stubbed_crate_with_a_build_script_stamps_nothing_of_it(tmp_path: Path) -> None:
    """A stub's build script runs in cook, but its outputs are removed and it compiles again anyway: none of
    its paths, and nothing of the target dir, may land in the stamp (or be settled by build)."""
    root = seed(tmp_path, lib_build_script="rerun-dir")
    f = flow(tmp_path, root, ["-p", "serviceZ", "--stub", "libB"], cook=["--release", "-p", "serviceZ"])
    f.cook(f.prepare())
    st = json.loads((f.workdir / "target" / "cargo-chefpy-stamp.json").read_text())
    stamped = [*st["files"], *st["vendored"], *st["dirs"]]
    assert not [p for p in stamped if p.startswith(("src/libB/", "target/"))]
    assert "vendored/fake-libc/src/probe" in st["dirs"]
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"libB", "serviceZ"}


def test_service_z_at_version_0_0_1_with_old_mtimes_runs_the_real_binary(tmp_path: Path) -> None:
    root = seed(tmp_path, service_z_version="0.0.1")
    set_all_mtimes(root, OLD)
    f = flow(tmp_path, root, ["-p", "serviceZ"])
    f.cook(f.prepare())
    stage = f.final(preserve_mtimes=True)
    output = f.run_binary(stage, "serviceZ")
    assert "serviceZ says hello" in output, f"stale dummy binary: {output!r}"
    assert stage.compiled == {"serviceZ"}


@pytest.mark.parametrize("kind", ["rerun", "rerun-dir", "plain"])
@BOTH_MODES
def test_kept_library_with_a_build_script_is_not_recompiled(
    tmp_path: Path, kind: str, preserve_mtimes: bool
) -> None:
    root = seed(tmp_path, lib_build_script=kind)
    _, output = edit_service_z_and_check(tmp_path, root, "hi", preserve_mtimes=preserve_mtimes)
    assert "build=libB build.rs v1/" in output


def test_kept_proc_macro_crate_works(tmp_path: Path) -> None:
    root = seed(tmp_path, proc_macro_member=True)
    edit_service_z_and_check(tmp_path, root, "hey", preserve_mtimes=False)


@BOTH_MODES
def test_patch_crate_and_outside_path_dependency_work(tmp_path: Path, preserve_mtimes: bool) -> None:
    root = seed(tmp_path, outside_dep=True)
    reused, output = edit_service_z_and_check(tmp_path, root, "ciao", preserve_mtimes=preserve_mtimes)
    assert reused
    assert "outside=" in output


def test_editing_the_patch_crate_recooks_and_final_stage_compiles_only_service_z(tmp_path: Path) -> None:
    root = seed(tmp_path)
    patch_lib = next((root / "rust-patches").glob("*/src/lib.rs"))

    def change(_: Path) -> None:
        patch_lib.write_text(patch_lib.read_text() + "\n// edited\n")

    _, reused, stage = first_then(tmp_path, root, change, preserve_mtimes=False)
    assert not reused
    assert stage.compiled == {"serviceZ"}


@pytest.mark.parametrize("profile", ["dev", "release", "custom"])
def test_profiles_dev_release_and_custom(tmp_path: Path, profile: str) -> None:
    root = seed(tmp_path)
    with (root / "Cargo.toml").open("a") as handle:
        handle.write('\n[profile.custom]\ninherits = "release"\nopt-level = 1\n')
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    args = {"dev": [], "release": ["--release"], "custom": ["--profile", "custom"]}[profile]
    f = flow(tmp_path, root, ["-p", "serviceZ"], cook=[*args, "-p", "serviceZ"])
    f.cook(f.prepare())
    edit(root / "src/serviceZ/src/main.rs", "serviceZ says hello", "serviceZ says hallo")
    assert f.cook(f.prepare())
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"serviceZ"}
    directory = {"dev": "debug", "release": "release", "custom": "custom"}[profile]
    assert "serviceZ says hallo" in f.run_binary(stage, "serviceZ", directory)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_target_dir_by_flag_or_environment(tmp_path: Path, how: str) -> None:
    root = seed(tmp_path)
    if how == "flag":
        f = flow(
            tmp_path, root, ["-p", "serviceZ"], cook=["--release", "-p", "serviceZ", "--target-dir", "out"]
        )
    else:
        env = {**os.environ, "CARGO_TARGET_DIR": str(tmp_path / "app" / "shared-target")}
        f = flow(tmp_path, root, ["-p", "serviceZ"], env=env)
    f.cook(f.prepare())
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"serviceZ"}
    target = stage.workdir / ("out" if how == "flag" else "shared-target")
    assert (target / "cargo-chefpy-stamp.json").is_file()
    assert (target / "release" / "serviceZ").is_file()


def test_target_triple_with_the_host_triple(tmp_path: Path) -> None:
    root = seed(tmp_path)
    triple = host_triple()
    f = flow(tmp_path, root, ["-p", "serviceZ"], cook=["--release", "--target", triple, "-p", "serviceZ"])
    f.cook(f.prepare())
    edit(root / "src/serviceZ/src/main.rs", "serviceZ says hello", "serviceZ says hola")
    assert f.cook(f.prepare())
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"serviceZ"}
    assert (stage.workspace / "target" / triple / "release" / "serviceZ").is_file()


def test_features_given_to_cook_and_build(tmp_path: Path) -> None:
    root = seed(tmp_path, optional_dep=True)
    args = ["--release", "-p", "serviceX", "--features", "extra"]
    f = flow(tmp_path, root, ["-p", "serviceX"], cook=args)
    f.cook(f.prepare())
    edit(root / "src/serviceX/src/main.rs", "serviceX says hello", "serviceX says moin")
    assert f.cook(f.prepare())
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"serviceX"}
    assert "serviceX says moin" in f.run_binary(stage, "serviceX")


def test_stub_all_recompiles_every_local_crate_like_cargo_chef(tmp_path: Path) -> None:
    root = seed(tmp_path)
    f = DockerFlow(
        tmp_path,
        root,
        prepare_args=["--stub-all"],
        cook_args=["--release", "-p", "serviceZ"],
        build_args=["--release", "-p", "serviceZ"],
    )
    f.cook(f.prepare())
    stage = f.final(preserve_mtimes=True)
    assert stage.compiled == {"serviceZ", "libA", "libB", "libC"}
    assert not any(name.startswith("fake-") for name in stage.compiled)


def test_build_warns_when_the_profile_drifts_from_cook(tmp_path: Path) -> None:
    root = seed(tmp_path)
    f = DockerFlow(
        tmp_path,
        root,
        prepare_args=["-p", "serviceZ"],
        cook_args=["--release", "-p", "serviceZ"],
        build_args=["-p", "serviceZ"],
    )
    f.cook(f.prepare())
    stage = f.final(preserve_mtimes=True)
    assert "warning: profile differs from cook" in stage.stderr


def test_build_warns_when_it_builds_packages_cook_did_not(tmp_path: Path) -> None:
    root = seed(tmp_path)
    f = DockerFlow(
        tmp_path,
        root,
        prepare_args=["-p", "serviceZ"],
        cook_args=["--release", "-p", "serviceZ"],
        build_args=["--release", "-p", "serviceX"],
    )
    f.cook(f.prepare())
    stage = f.final(preserve_mtimes=True)
    assert "warning: building serviceX, which cook did not build (cooked serviceZ)" in stage.stderr
    assert "warning: profile" not in stage.stderr


@pytest.mark.parametrize(
    ("cook_spec", "build_spec"),
    [("serviceZ", "service[Z]"), ("service*", "serviceZ@0.3.0")],
)
def test_build_does_not_warn_about_packages_cook_built_under_another_spelling(
    tmp_path: Path, cook_spec: str, build_spec: str
) -> None:
    """A glob, a `name@version` or a package id names the same package as cook's plain name (or glob)."""
    root = seed(tmp_path)
    f = DockerFlow(
        tmp_path,
        root,
        prepare_args=["-p", "serviceZ"],
        cook_args=["--release", "-p", cook_spec],
        build_args=["--release", "-p", build_spec],
    )
    f.cook(f.prepare())
    stage = f.final(preserve_mtimes=True)
    assert "which cook did not build" not in stage.stderr
    assert stage.compiled == {"serviceZ"}


def test_build_with_manifest_path_from_outside_the_workspace(tmp_path: Path) -> None:
    root = seed(tmp_path)
    f = flow(tmp_path, root, ["-p", "serviceZ"])
    f.cook(f.prepare())
    manifest = ["--manifest-path", str(f.workdir / "Cargo.toml")]
    stage = f.final(preserve_mtimes=False, extra_build_args=manifest, cwd=tmp_path)
    assert stage.compiled == {"serviceZ"}


def test_build_with_a_relative_manifest_path_from_another_directory_builds_that_workspace(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "repo" / "ws"
    (ws / "app" / "src").mkdir(parents=True)
    (ws / "Cargo.toml").write_text('[workspace]\nmembers = ["app"]\nresolver = "2"\n')
    (ws / "app" / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n')
    (ws / "app" / "src" / "main.rs").write_text('fn main() { println!("app runs"); }\n')
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=ws, check=True, capture_output=True)
    # cargo runs beside the manifest (for its .cargo/config.toml); the relative path must still hold there.
    proc = ok(chefpy(["build", "--manifest-path", "ws/Cargo.toml", "--target-dir", "out"], tmp_path / "repo"))
    assert "no cook stamp" in proc.stderr
    binary = tmp_path / "repo" / "out" / "debug" / "app"
    assert subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout == "app runs\n"
