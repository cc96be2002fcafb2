"""A kept package's files (include/exclude as cargo applies them, the root package's conventions),
extra paths, the iterative walk, and cook's diagnosis of a file the recipe does not carry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cargo_chefpy.carry import Patterns, metadata_include, package_files, resolve_extra
from cargo_chefpy.cook import missing_file_failure
from cargo_chefpy.errors import ProjectError, SelectionError, UsageError
from cargo_chefpy.metadata import Package, Target
from cargo_chefpy.prepare import _crate_files

# (patterns, path, is_dir, matches): the examples of cargo's reference and of gitignore(5)
CASES = [
    (["foo"], "foo", False, True),
    (["foo"], "a/b/foo", False, True),  # `foo` is `**/foo`: a name anywhere
    (["foo"], "foo/inner.rs", False, True),  # inside a matched directory
    (["foo"], "foobar", False, False),
    (["/foo"], "foo", False, True),
    (["/foo"], "a/foo", False, False),  # `/foo` only at the package root
    (["foo/"], "foo", False, False),  # `foo/` only a directory
    (["foo/"], "a/foo/x.rs", False, True),
    (["*.md"], "docs/guide.md", False, True),
    (["*.md"], "guide.mdx", False, False),
    (["src/*.rs"], "src/lib.rs", False, True),
    (["src/*.rs"], "src/a/lib.rs", False, False),  # `*` never crosses `/`
    (["src/*.rs"], "a/src/lib.rs", False, False),  # a pattern with `/` is anchored
    (["src/**"], "src/a/b/c.rs", False, True),
    (["**/gen"], "gen", True, True),
    (["**/gen"], "a/b/gen/x", False, True),
    (["a/**/b"], "a/b", False, True),
    (["a/**/b"], "a/x/y/b", False, True),
    (["a/**/b"], "a/x/yb", False, False),
    (["data/?.txt"], "data/n.txt", False, True),
    (["data/?.txt"], "data/nn.txt", False, False),
    (["[ab].rs"], "a.rs", False, True),
    (["[!ab].rs"], "a.rs", False, False),
    (["[!ab].rs"], "c.rs", False, True),
    (["[a-c]*.rs"], "build.rs", False, True),
    (["[]a].rs"], "].rs", False, True),
    (["[!]a].rs"], "b.rs", False, True),
    (["[[]x"], "[x", False, True),
    (["[a"], "[a", False, True),  # an unclosed `[` is literal
    (["[a\\-z]"], "-", False, True),
    (["[a\\-z]"], "b", False, False),
    (["*.rs", "!build.rs"], "build.rs", False, False),  # the last matching pattern decides
    (["*.rs", "!build.rs"], "lib.rs", False, True),
    (["!build.rs", "*.rs"], "build.rs", False, True),
    (["docs/", "!docs/keep.md"], "docs/keep.md", False, False),  # negated: the file's own match wins
    (["# comment", "", "  "], "# comment", False, False),
    (["\\#notes"], "#notes", False, True),
    (["\\!bang"], "!bang", False, True),
    (["a\\*b"], "a*b", False, True),
    (["a\\*b"], "axb", False, False),
    (["trailing  "], "trailing", False, True),
    (["a.rs"], "a_rs", False, False),  # `.` is literal
]


@pytest.mark.parametrize(("patterns", "path", "is_dir", "expected"), CASES)
def test_patterns_match_as_gitignore_patterns_do(
    patterns: list[str], path: str, is_dir: bool, expected: bool
) -> None:
    assert Patterns(patterns).matches(path, is_dir=is_dir) is expected


@pytest.mark.parametrize(
    ("patterns", "directory", "expected"),
    [
        (["src/**"], "src", True),
        (["src/**"], "docs", False),
        (["src/a/*.rs"], "src", True),
        (["src/a/*.rs"], "src/a", True),
        (["src/a/*.rs"], "src/b", False),
        (["*.rs"], "anything", True),
        (["/data/*.txt"], "data", True),
        (["/data/*.txt"], "docs", False),
        (["!src/**"], "src", False),
    ],
)
def test_an_include_walk_enters_only_directories_that_may_hold_a_match(
    patterns: list[str], directory: str, expected: bool
) -> None:
    assert Patterns(patterns).may_match_below(directory) is expected


def target(kind: str, src: str) -> Target:
    return Target(name="t", kinds=(kind,), crate_types=(), src_path=src)


def member(directory: str, *targets: Target) -> Package:
    return Package(
        id="x",
        name="x",
        version="0.1.0",
        manifest_path=f"{directory}/Cargo.toml",
        dependencies=(),
        targets=targets,
    )


def test_a_root_package_carries_its_manifest_build_script_and_target_directories_only() -> None:
    pkg = member(
        "/ws",
        target("lib", "/ws/src/lib.rs"),
        target("bin", "/ws/crates/core/main.rs"),
        target("custom-build", "/ws/build.rs"),
        target("bin", "/elsewhere/x.rs"),
    )
    files = package_files(
        "/ws", {"package": {"readme": "README.md"}}, pkg, is_root=True, workspace_package={}
    )
    carried = ["Cargo.toml", "build.rs", "src/lib.rs", "src/a/b.rs", "crates/core/app.rs", "README.md"]
    assert all(files.wants(p) for p in carried)
    assert not any(files.wants(p) for p in ["docs/guide.md", "Dockerfile", "crates/other.rs", "recipe.json"])
    assert [d for d in ["src", "crates", "crates/core", "docs", ".github"] if files.walks_into(d)] == [
        "src",
        "crates",
        "crates/core",
    ]


def test_include_overrides_exclude_and_a_workspace_inherited_list_is_read_from_the_root() -> None:
    pkg = member("/ws/a", target("lib", "/ws/a/src/lib.rs"))
    manifest = {"package": {"include": {"workspace": True}, "exclude": ["src/**"]}}
    files = package_files("/ws/a", manifest, pkg, is_root=False, workspace_package={"include": ["data/**"]})
    assert all(files.wants(p) for p in ["data/x", "src/lib.rs", "Cargo.toml"])
    assert not files.wants("src/other.rs")  # only the targets' own files are always carried
    excluded = package_files(
        "/ws/a", {"package": {"exclude": ["*.bak", "docs/"]}}, pkg, is_root=False, workspace_package={}
    )
    assert [p for p in ["src/x.rs", "README.md", "src/x.rs.bak", "docs/a/b.md"] if excluded.wants(p)] == [
        "src/x.rs",
        "README.md",
    ]
    assert [d for d in ["docs", "src"] if excluded.walks_into(d)] == ["src"]


def test_a_package_include_that_is_not_a_list_of_strings_is_a_project_error() -> None:
    with pytest.raises(ProjectError, match=r"package.include of /ws/a/Cargo.toml is not a list of strings"):
        package_files("/ws/a", {"package": {"include": "src"}}, None, is_root=False, workspace_package={})


def test_an_invalid_pattern_is_a_project_error_naming_it_and_where_it_is() -> None:
    with pytest.raises(ProjectError, match=r"the pattern '\[z-a\]' in package.exclude of x/Cargo.toml"):
        Patterns(["[z-a]"], "package.exclude of x/Cargo.toml")


@given(
    st.lists(st.text(alphabet="ab/*?[]!^-\\# .", max_size=8), max_size=4),
    st.text(alphabet="ab/.[]", min_size=1, max_size=8),
)
@settings(max_examples=300, deadline=None)
def test_any_pattern_list_compiles_or_is_a_project_error_and_matching_never_raises(
    patterns: list[str], path: str
) -> None:
    try:
        compiled = Patterns(patterns)
    except ProjectError:
        return
    for is_dir in (False, True):
        compiled.matches(path.strip("/") or "a", is_dir=is_dir)
    compiled.may_match_below(path.strip("/") or "a")


def test_the_metadata_include_is_read_from_workspace_metadata_chefpy() -> None:
    assert metadata_include({"workspace": {"metadata": {"chefpy": {"include": ["proto"]}}}}) == ("proto",)
    assert metadata_include({"workspace": {"metadata": {"other": 1}}}) == ()
    with pytest.raises(ProjectError, match=r"workspace\.metadata\.chefpy\.include"):
        metadata_include({"workspace": {"metadata": {"chefpy": {"include": "proto"}}}})


def test_extra_paths_are_files_directories_or_globs_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "proto" / "v1").mkdir(parents=True)
    (root / "proto" / "v1" / "a.proto").write_text("a")
    (root / "README.md").write_text("r")
    (root / "escape").symlink_to(tmp_path)
    found = resolve_extra(str(root), ["proto", "README.md", "proto/**/*.proto"], "--include", set())
    assert [e.paths for e in found] == [
        (f"{root}/proto",),
        (f"{root}/README.md",),
        (f"{root}/proto/v1/a.proto",),
    ]
    with pytest.raises(UsageError, match="outside the workspace root"):
        resolve_extra(str(root), ["../x"], "--include", set())
    with pytest.raises(ProjectError, match="outside the workspace root"):
        resolve_extra(str(root), ["/etc"], "workspace.metadata.chefpy.include", set())
    with pytest.raises(UsageError, match="leads outside the workspace"):
        resolve_extra(str(root), ["escape"], "--include", set())
    with pytest.raises(ProjectError, match="leads outside the workspace"):
        resolve_extra(str(root), ["escape"], "workspace.metadata.chefpy.include", set())
    with pytest.raises(SelectionError, match="matches nothing"):
        resolve_extra(str(root), ["*.missing"], "--include", set())
    with pytest.raises(SelectionError, match="is a package directory"):
        resolve_extra(str(root), ["proto"], "--include", {f"{root}/proto"})


def make_deep(base: Path, depth: int) -> None:
    """A chain of `depth` directories named `d`, a file at the bottom, made through directory file
    descriptors: the path may be longer than the system allows."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("bottom.rs", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def remove_deep(base: Path) -> None:
    """Remove what make_deep made, however deep (shutil.rmtree recurses)."""
    fds = [os.open(base, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        while fds:
            with os.scandir(fds[-1]) as entries:
                names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
            for name, is_dir in names:
                if not is_dir:
                    os.unlink(name, dir_fd=fds[-1])
            sub = next((name for name, is_dir in names if is_dir), None)
            if sub is not None:
                fds.append(os.open(sub, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
                continue
            os.close(fds.pop())
            if fds:
                with os.scandir(fds[-1]) as entries:
                    child = next(e.name for e in entries if e.is_dir(follow_symlinks=False))
                os.rmdir(child, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)


def test_the_walk_reaches_a_tree_deeper_than_python_s_recursion_limit(tmp_path: Path) -> None:
    crate = tmp_path / "c"
    crate.mkdir()
    depth = sys.getrecursionlimit() + 50
    make_deep(crate, depth)
    try:
        found = list(_crate_files(str(crate), set()))
        assert [sub for _, sub, _ in found] == ["d/" * depth + "bottom.rs"]
    finally:
        remove_deep(crate)


def test_a_tree_whose_paths_are_too_long_is_one_clean_project_error(tmp_path: Path) -> None:
    crate = tmp_path / "c"
    crate.mkdir()
    make_deep(crate, 2100)  # 4200 bytes of path: more than PATH_MAX
    try:
        with pytest.raises(ProjectError, match="its path is too long") as caught:
            list(_crate_files(str(crate), set()))
        assert "package.exclude" in caught.value.hint
    finally:
        remove_deep(crate)


def test_cook_names_a_file_that_include_str_could_not_read(tmp_path: Path) -> None:
    tail = [
        "   Compiling doclib v0.1.0 (/app/doclib)",
        "error: couldn't read `doclib/src/../../README.md`: No such file or directory (os error 2)",
        " --> doclib/src/lib.rs:1:26",
    ]
    error = missing_file_failure(tail, tmp_path)
    assert error is not None
    assert error.exit_code == 8
    assert (
        error.message
        == "doclib/src/lib.rs reads README.md, which the recipe does not carry (it is outside the package)"
    )
    assert "`cargo chefpy prepare --include README.md`" in error.hint
    assert "[workspace.metadata.chefpy]" in error.hint


def build_script_tail(package_dir: Path, panic: str) -> list[str]:
    return [
        f"error: failed to run custom build command for `protolib v0.1.0 ({package_dir})`",
        "",
        "Caused by:",
        "  process didn't exit successfully: `/app/target/release/build/protolib-1/build-script-build`",
        "  --- stdout",
        "  cargo:rerun-if-changed=../proto/x.proto",
        "  cargo:rerun-if-changed=build.rs",
        "",
        "  --- stderr",
        "  thread 'main' (1) panicked at protolib/build.rs:3:61:",
        f"  {panic}",
        "warning: build failed, waiting for other jobs to finish...",
        "error: the cook build failed",
    ]


@pytest.mark.parametrize(
    "panic",
    [
        'read ../proto/x.proto: Os { code: 2, kind: NotFound, message: "No such file or directory" }',
        'called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, message: "..." }',
    ],
    ids=["path-in-panic", "path-from-rerun-if-changed"],
)
def test_cook_names_the_missing_file_a_build_script_failed_to_read(tmp_path: Path, panic: str) -> None:
    (tmp_path / "protolib").mkdir()
    (tmp_path / "protolib" / "build.rs").write_text("fn main() {}")
    error = missing_file_failure(build_script_tail(tmp_path / "protolib", panic), tmp_path)
    assert error is not None
    assert error.message.startswith("the build script of protolib reads proto/x.proto, which the recipe")
    assert "--include proto/x.proto" in error.hint


def test_a_build_script_failing_for_another_reason_is_left_to_cargo_s_message(tmp_path: Path) -> None:
    tail = build_script_tail(tmp_path / "protolib", "protoc failed: syntax error in x.proto")
    assert missing_file_failure(tail, tmp_path) is None
    assert missing_file_failure(["error[E0425]: cannot find value `x` in this scope"], tmp_path) is None


def test_a_missing_file_outside_the_cook_workspace_cannot_be_carried_and_says_so(tmp_path: Path) -> None:
    tail = ["error: couldn't read `/elsewhere/schema.sql`: No such file or directory (os error 2)"]
    error = missing_file_failure(tail, tmp_path)
    assert error is not None
    assert "/elsewhere/schema.sql, which is outside the workspace" in error.message
    assert "move the file into the workspace" in error.hint
