"""Where stub files go, how build removes the ones the final sources did not replace, where cook looks
for the stubs' outputs, and which cargo flags after `--` are refused."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from cargo_chefpy import artifacts, prepare, stamp
from cargo_chefpy.build import remove_stub_leftovers
from cargo_chefpy.cli import main
from cargo_chefpy.cook import missing_parents
from cargo_chefpy.errors import StampError, UsageError
from cargo_chefpy.manifest import STUB_DIR, STUB_LIB, STUB_MAIN
from cargo_chefpy.metadata import Package, Target
from cargo_chefpy.options import check_extra
from cargo_chefpy.plan import Plan
from cargo_chefpy.prepare import _stub_spec
from cargo_chefpy.workspace import LocalCrate


def target(name: str, kind: str, path: str) -> Target:
    return Target(name=name, kinds=(kind,), crate_types=(kind,), src_path=path)


def crate(directory: str, *targets: Target, name: str = "app") -> LocalCrate:
    package = Package(
        id=f"path+file://{directory}#{name}@1.0.0",
        name=name,
        version="1.0.0",
        manifest_path=f"{directory}/Cargo.toml",
        dependencies=(),
        targets=targets,
    )
    return LocalCrate(
        name=name, version="1.0.0", directory=directory, member=True, local_deps=(), package=package
    )


def test_stub_files_go_at_the_real_target_paths_cargo_reports() -> None:
    c = crate(
        "/w",
        target("rg", "bin", "/w/crates/core/main.rs"),
        target("build-script-build", "custom-build", "/w/tools/build.rs"),
        target("app", "lib", "/w/lib/app.rs"),
    )
    spec = _stub_spec(c, Plan(decisions=(), targets=("app",), bins=("rg",)), {"/w"})
    assert spec.stub_files() == {
        "lib/app.rs": STUB_LIB,
        "crates/core/main.rs": STUB_MAIN,
        "tools/build.rs": STUB_MAIN,
    }


def test_a_package_without_a_lib_stubs_one_bin_at_its_real_path_in_src_bin() -> None:
    c = crate(
        "/w/app", target("one", "bin", "/w/app/src/bin/one.rs"), target("two", "bin", "/w/app/src/bin/two.rs")
    )
    spec = _stub_spec(c, Plan(decisions=(), targets=("app",), bins=()), {"/w/app"})
    assert spec.bins == ("one",)
    assert spec.stub_files() == {"src/bin/one.rs": STUB_MAIN}


def test_a_path_outside_the_package_inside_a_nested_crate_or_taken_falls_back_to_the_stub_directory() -> None:
    c = crate(
        "/w",
        target("app", "lib", "/w/shared.rs"),
        target("a", "bin", "/w/../elsewhere/main.rs"),
        target("b", "bin", "/w/crates/grep/src/main.rs"),
        target("c", "bin", "/w/shared.rs"),
    )
    spec = _stub_spec(c, Plan(decisions=(), targets=(), bins=("a", "b", "c")), {"/w", "/w/crates/grep"})
    assert spec.lib_path == "shared.rs"
    assert spec.bin_paths == (f"{STUB_DIR}/bin-0.rs", f"{STUB_DIR}/bin-1.rs", f"{STUB_DIR}/bin-2.rs")


def test_cook_records_the_directories_it_creates_for_stub_files(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    assert missing_parents(tmp_path, ["app/crates/core/main.rs", "app/crates/x.rs", "build.rs"]) == (
        "app/crates",
        "app/crates/core",
    )


def _stamp(files: dict[str, str], dirs: tuple[str, ...] = ()) -> stamp.Stamp:
    return stamp.Stamp(
        recipe="r", workspace=".", options={}, packages=(), files={}, vendored={}, vendored_dirs=(),
        kept_crates=0, external_crates=0, stub_files=files, stub_created_dirs=dirs,
    )  # fmt: skip


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_build_removes_stub_files_still_identical_and_the_empty_directories_cook_created(
    tmp_path: Path,
) -> None:
    left = tmp_path / "svc" / STUB_DIR / "bin-0.rs"
    left.parent.mkdir(parents=True)
    left.write_text(STUB_MAIN)
    replaced = tmp_path / "crates/core/main.rs"
    replaced.parent.mkdir(parents=True)
    replaced.write_text('fn main() { println!("real"); }\n')
    kept_dir = tmp_path / "lib"
    kept_dir.mkdir()
    (kept_dir / "notes.txt").write_text("mine")
    (kept_dir / "app.rs").write_text(STUB_LIB)
    st = _stamp(
        {f"svc/{STUB_DIR}/bin-0.rs": sha(STUB_MAIN), "crates/core/main.rs": sha(STUB_MAIN),
         "lib/app.rs": sha(STUB_LIB), "gone.rs": sha(STUB_MAIN)},
        (f"svc/{STUB_DIR}", "crates", "crates/core", "lib"),
    )  # fmt: skip
    assert remove_stub_leftovers(st, tmp_path) == 2
    assert not left.parent.exists()
    assert replaced.read_text().startswith("fn main() { println!")
    assert (kept_dir / "notes.txt").read_text() == "mine"
    assert not (kept_dir / "app.rs").exists()


def test_build_never_removes_a_stub_copy_reached_through_a_symlinked_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "main.rs").write_text(STUB_MAIN)
    root = tmp_path / "root"
    root.mkdir()
    (root / "src").symlink_to(outside)
    assert remove_stub_leftovers(_stamp({"src/main.rs": sha(STUB_MAIN)}, ("src",)), root) == 0
    assert (outside / "main.rs").exists()
    assert (root / "src").is_symlink()


def test_the_stamp_round_trips_stub_files_and_an_older_stamp_without_them_reads_as_none(
    tmp_path: Path,
) -> None:
    st = _stamp({"src/main.rs": sha(STUB_MAIN)}, ("src",))
    stamp.write(tmp_path, st)
    assert stamp.read(tmp_path) == st
    raw = (tmp_path / stamp.STAMP_NAME).read_text()
    older = raw.replace('"stub_created_dirs"', '"x_ignored"').replace('"stub_files"', '"y_ignored"')
    (tmp_path / stamp.STAMP_NAME).write_text(older)
    again = stamp.read(tmp_path)
    assert again is not None
    assert again.stub_files == {}
    assert again.stub_created_dirs == ()


def test_an_unsafe_stub_path_in_the_stamp_is_corrupt(tmp_path: Path) -> None:
    stamp.write(tmp_path, _stamp({"../x.rs": "d"}))
    with pytest.raises(StampError, match="unsafe path"):
        stamp.read(tmp_path)


def test_cook_looks_for_stub_outputs_in_every_profile_directory_cargo_reported() -> None:
    found = artifacts.StubArtifacts(stub_dirs=frozenset({"/w/app"}))
    for message in (
        {"reason": "compiler-artifact", "manifest_path": "/v/dep/Cargo.toml",
         "filenames": ["/b/x86_64-unknown-linux-gnu/fast/deps/libdep-1111111111111111.rlib"]},
        {"reason": "compiler-artifact", "manifest_path": "/w/app/Cargo.toml",
         "filenames": ["/b/fast/build/app-2222222222222222/build-script-build"]},
        {"reason": "build-script-executed", "manifest_path": "/w/app/Cargo.toml",
         "out_dir": "/b/x86_64-unknown-linux-gnu/fast/build/app-3333333333333333/out"},
        {"reason": "compiler-artifact", "manifest_path": "/w/app/Cargo.toml",
         "filenames": ["/t/x86_64-unknown-linux-gnu/fast/app"],
         "executable": "/t/x86_64-unknown-linux-gnu/fast/app"},
        {"reason": "compiler-artifact", "manifest_path": "/w/app/Cargo.toml",
         "filenames": ["/t/fast/examples/demo"]},
    ):  # fmt: skip
        found.observe(message)
    assert found.profile_dirs == {
        "/b/x86_64-unknown-linux-gnu/fast", "/b/fast", "/t/x86_64-unknown-linux-gnu/fast", "/t/fast",
    }  # fmt: skip


REFUSED = [
    (["--release"], "--release", "--release"),
    (["-r"], "-r", "--release"),
    (["-vr"], "-r", "--release"),
    (["--profile", "fast"], "--profile", "--profile"),
    (["--profile=fast"], "--profile", "--profile"),
    (["--target=x86_64-unknown-linux-musl"], "--target", "--target"),
    (["--target-dir", "out"], "--target-dir", "--target-dir"),
    (["--manifest-path", "a/Cargo.toml"], "--manifest-path", "--manifest-path"),
    (["-pother"], "-p", "-p"),
    (["--package", "other"], "--package", "-p"),
    (["--workspace"], "--workspace", "--workspace"),
    (["--all"], "--all", "--workspace"),
    (["-j", "2", "-F", "x"], "-F", "--features"),
    (["--features=x"], "--features", "--features"),
    (["--all-features"], "--all-features", "--all-features"),
    (["--no-default-features"], "--no-default-features", "--no-default-features"),
    (["--bin", "x"], "--bin", "--bin"),
]


@pytest.mark.parametrize(("extra", "flag", "own"), REFUSED, ids=[" ".join(r[0]) for r in REFUSED])
def test_a_flag_that_changes_what_is_built_or_where_is_refused_after_the_double_dash(
    extra: list[str], flag: str, own: str
) -> None:
    for cook in (True, False) if flag != "--manifest-path" else (False,):  # cook takes none: below
        with pytest.raises(UsageError) as info:
            check_extra(extra, cook=cook)
        assert info.value.message.startswith(f"{flag} after `--`")
        assert info.value.hint == f"pass {own} before `--`, where cargo chefpy reads it"
        assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("value", "setting"),
    [('build.target="x86_64-unknown-linux-musl"', "build.target"),
     ("build.target-dir='out'", "build.target-dir"),
     ("profile.release.lto=true", "profile"), ('build = { target = "x" }', "build.target")],
)  # fmt: skip
def test_a_config_value_that_sets_the_target_target_dir_or_a_profile_is_refused(
    value: str, setting: str
) -> None:
    for extra in (["--config", value], [f"--config={value}"]):
        with pytest.raises(UsageError, match=re.escape(f"sets {setting},")):
            check_extra(extra, cook=False)


def test_a_config_file_that_sets_build_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "extra.toml"
    path.write_text('[build]\ntarget = "x86_64-unknown-linux-musl"\n')
    with pytest.raises(UsageError, match=re.escape("sets build.target,")):
        check_extra(["--config", str(path)], cook=True)


@pytest.mark.parametrize(
    "extra",
    [["--locked", "-v"], ["-j", "2"], ["--config", "net.offline=true"], ["--config", "/no/such/file.toml"],
     ["--lib"], ["--example", "demo"], ["--", "--release"], ["--exclude", "x"], ["-Zunstable-options"]],
)  # fmt: skip
def test_flags_that_do_not_change_what_is_built_or_where_pass_through(extra: list[str]) -> None:
    check_extra(extra, cook=True)
    check_extra(extra, cook=False)


def test_message_format_is_refused_for_cook_only() -> None:
    with pytest.raises(UsageError, match="JSON messages cook reads"):
        check_extra(["--message-format", "short"], cook=True)
    check_extra(["--message-format", "short"], cook=False)


@pytest.mark.parametrize("command", ["cook", "build"])
def test_cook_and_build_refuse_release_after_the_double_dash_with_exit_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--", "--release"], cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: --release after `--`")
    assert err[1] == "hint: pass --release before `--`, where cargo chefpy reads it"
    assert list(tmp_path.iterdir()) == []


def test_a_member_below_a_root_package_gets_its_stub_at_the_real_path() -> None:
    """The root package's directory holds every member: it does not make a member's file 'nested'."""
    others = {"/ws", "/ws/crates/b", "/ws/crates/a/inner"}
    assert prepare._in_package("/ws/crates/a/src/lib.rs", "/ws/crates/a", others) == "src/lib.rs"
    assert prepare._in_package("/ws/crates/a/inner/src/main.rs", "/ws/crates/a", others) is None
    assert prepare._in_package("/ws/crates/b/src/lib.rs", "/ws/crates/a", others) is None
