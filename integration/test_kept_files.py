"""Which files a kept crate carries, with real cargo: the package's files (include/exclude, cargo's
conventions for the root package), never the recipe or other outputs; and the extra paths a kept crate
reads outside its package (`--include`, `[workspace.metadata.chefpy] include`).

The workspaces here have no registry dependency: everything is local, so cook needs no vendored sources.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from integration.support.flow import DockerFlow, chefpy, ok

BOTH_MODES = pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def package(name: str, deps: dict[str, str] | None = None, extra: str = "") -> str:
    lines = [f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n{extra}\n[dependencies]']
    lines += [f'{dep} = {{ path = "{path}" }}' for dep, path in sorted((deps or {}).items())]
    return "\n".join(lines) + "\n"


def lock(root: Path) -> None:
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)


def recipe_paths(recipe: bytes) -> dict[str, str]:
    return {f["path"]: f["role"] for f in json.loads(recipe)["files"]}


# --- a root package, kept ----------------------------------------------------------------------------


def root_package_workspace(tmp: Path) -> Path:
    """`rootlib` is the root package (a lib with a build script) and is kept: `cli` depends on it. The
    root also holds docs, a Dockerfile and a stale recipe.json; `inc` and `exc` set include/exclude."""
    root = tmp / "context" / "ws"
    write(
        root,
        {
            "Cargo.toml": package("rootlib")
            + '\n[workspace]\nmembers = ["crates/cli", "crates/inc", "crates/exc"]\n',
            "build.rs": 'fn main() { println!("cargo:rerun-if-changed=build.rs"); }\n',
            "src/lib.rs": 'pub fn hello() -> &\'static str { "rootlib v1" }\n',
            "README.md": "# the workspace\n",
            "docs/guide.md": "a guide\n",
            "Dockerfile": "FROM scratch\n",
            ".github/workflows/ci.yml": "on: push\n",
            "recipe.json": '{"a stale": "recipe"}\n',
            "crates/cli/Cargo.toml": package("cli", {"rootlib": "../..", "inc": "../inc", "exc": "../exc"}),
            "crates/cli/src/main.rs": (
                'fn main() { println!("{} {} {}", rootlib::hello(), inc::N, exc::N); }\n'
            ),
            "crates/inc/Cargo.toml": package(
                "inc", extra='include = ["src/**", "/data/*.txt", "!src/skip.rs"]'
            ),
            "crates/inc/src/lib.rs": 'pub const N: &str = include_str!("../data/n.txt");\n',
            "crates/inc/src/skip.rs": "// not included\n",
            "crates/inc/data/n.txt": "inc v1",
            "crates/inc/data/notes.md": "not included\n",
            "crates/inc/notes.md": "not included\n",
            "crates/exc/Cargo.toml": package("exc", extra='exclude = ["docs/", "*.bak"]'),
            "crates/exc/src/lib.rs": 'pub const N: &str = "exc v1";\n',
            "crates/exc/src/old.rs.bak": "// excluded\n",
            "crates/exc/docs/a.md": "excluded\n",
            "crates/exc/docs/deep/b.md": "excluded\n",
            "crates/exc/README.md": "kept\n",
        },
    )
    lock(root)
    return root


def prepare_in_place(root: Path, *args: str) -> bytes:
    ok(chefpy(["prepare", "-p", "cli", *args], root))
    return (root / "recipe.json").read_bytes()


def test_a_kept_root_package_carries_its_build_files_not_the_root_s_docs_or_the_recipe(
    tmp_path: Path,
) -> None:
    root = root_package_workspace(tmp_path)
    paths = recipe_paths(prepare_in_place(root))
    root_files = {p for p, role in paths.items() if role == "keep" and not p.startswith("crates/")}
    assert root_files == {"build.rs", "src/lib.rs"}
    assert paths["Cargo.toml"] == "workspace"
    assert not {"recipe.json", "README.md", "Dockerfile", "docs/guide.md", ".github/workflows/ci.yml"} & set(
        paths
    )


def test_a_second_prepare_with_the_recipe_present_and_a_docs_edit_give_the_same_recipe(
    tmp_path: Path,
) -> None:
    root = root_package_workspace(tmp_path)
    (root / "recipe.json").unlink()
    first = prepare_in_place(root)
    assert prepare_in_place(root) == first  # recipe.json is now in the root
    (root / "docs/guide.md").write_text("a better guide\n")
    (root / "README.md").write_text("# edited\n")
    (root / "target/debug").mkdir(parents=True)
    (root / "target/debug/junk").write_text("x")
    assert prepare_in_place(root) == first
    out = tmp_path / "elsewhere.json"
    ok(chefpy(["prepare", "-p", "cli", "--recipe-path", str(out)], root))
    assert out.read_bytes() == first


def test_a_recipe_written_inside_a_kept_crate_is_never_carried(tmp_path: Path) -> None:
    root = root_package_workspace(tmp_path)
    args = ["prepare", "-p", "cli", "--recipe-path", "crates/exc/recipe.json"]
    ok(chefpy(args, root))
    first = (root / "crates/exc/recipe.json").read_bytes()
    assert "crates/exc/recipe.json" not in recipe_paths(first)
    ok(chefpy(args, root))
    assert (root / "crates/exc/recipe.json").read_bytes() == first
    ok(chefpy(["prepare", "-p", "cli", "--out-dir", "crates/exc/skeleton"], root))
    assert not (root / "crates/exc/skeleton/crates/exc/skeleton").exists()


def test_a_kept_crate_carries_what_its_include_or_exclude_selects(tmp_path: Path) -> None:
    root = root_package_workspace(tmp_path)
    paths = set(recipe_paths(prepare_in_place(root)))
    inc = {p for p in paths if p.startswith("crates/inc/")}
    assert inc == {"crates/inc/Cargo.toml", "crates/inc/src/lib.rs", "crates/inc/data/n.txt"}
    exc = {p for p in paths if p.startswith("crates/exc/")}
    assert exc == {"crates/exc/Cargo.toml", "crates/exc/src/lib.rs", "crates/exc/README.md"}


@BOTH_MODES
def test_a_root_package_workspace_cooks_and_builds_only_the_edited_crate(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    root = root_package_workspace(tmp_path)
    f = DockerFlow(
        tmp_path,
        root,
        prepare_args=["-p", "cli"],
        cook_args=["--release", "-p", "cli"],
        build_args=["--release", "-p", "cli"],
    )
    f.cook(f.prepare())
    (root / "docs/guide.md").write_text("edited\n")
    text = (root / "crates/cli/src/main.rs").read_text()
    (root / "crates/cli/src/main.rs").write_text(text.replace("{} {} {}", "cli v2: {} {} {}"))
    assert f.cook(f.prepare()), "neither a docs edit nor an edit to the stubbed cli may change the recipe"
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"cli"}
    assert f.run_binary(stage, "cli") == "cli v2: rootlib v1 inc v1 exc v1"


# --- kept crates that read files outside their package ------------------------------------------------


def outside_reads_workspace(tmp: Path, metadata: bool = False) -> Path:
    """`app` (the target) depends on `protolib`, whose build.rs reads ../proto/x.proto, and on `doclib`,
    which does include_str!("../../README.md")."""
    root = tmp / "context" / "ws"
    manifest = '[workspace]\nmembers = ["app", "protolib", "doclib"]\nresolver = "2"\n'
    if metadata:
        manifest += '\n[workspace.metadata.chefpy]\ninclude = ["proto", "README.md"]\n'
    write(
        root,
        {
            "Cargo.toml": manifest,
            "proto/x.proto": "message X v1",
            "README.md": "readme v1",
            "app/Cargo.toml": package("app", {"protolib": "../protolib", "doclib": "../doclib"}),
            "app/src/main.rs": 'fn main() { println!("app: {} / {}", protolib::PROTO, doclib::README); }\n',
            "protolib/Cargo.toml": package("protolib"),
            "protolib/build.rs": (
                "fn main() {\n"
                '    println!("cargo:rerun-if-changed=../proto/x.proto");\n'
                '    let proto = std::fs::read_to_string("../proto/x.proto")\n'
                '        .expect("read ../proto/x.proto");\n'
                '    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("gen.rs");\n'
                '    std::fs::write(out, format!("pub const PROTO: &str = {proto:?};")).unwrap();\n'
                "}\n"
            ),
            "protolib/src/lib.rs": 'include!(concat!(env!("OUT_DIR"), "/gen.rs"));\n',
            "doclib/Cargo.toml": package("doclib"),
            "doclib/src/lib.rs": 'pub const README: &str = include_str!("../../README.md");\n',
        },
    )
    lock(root)
    return root


def cook_in_empty_dir(tmp: Path, recipe: bytes) -> subprocess.CompletedProcess[str]:
    cook_dir = tmp / "cook"
    cook_dir.mkdir()
    (cook_dir / "recipe.json").write_bytes(recipe)
    return chefpy(["cook", "--release", "-p", "app"], cook_dir)


@pytest.mark.parametrize("missing", ["proto", "readme"])
def test_cook_names_a_file_read_outside_the_package_that_the_recipe_does_not_carry(
    tmp_path: Path, missing: str
) -> None:
    root = outside_reads_workspace(tmp_path)
    args = ["--include", "README.md"] if missing == "proto" else ["--include", "proto"]
    ok(chefpy(["prepare", "-p", "app", *args], root))
    proc = cook_in_empty_dir(tmp_path, (root / "recipe.json").read_bytes())
    assert proc.returncode == 8, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    hints = [line for line in proc.stderr.splitlines() if line.startswith("hint: ")]
    name = "proto/x.proto" if missing == "proto" else "README.md"
    assert len(hints) == 1
    assert f" reads {name}, which the recipe does not carry" in errors[-1], errors
    assert f"--include {name}" in hints[0]
    assert "workspace.metadata.chefpy" in hints[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", ["flag", "metadata"])
@BOTH_MODES
def test_extra_paths_cook_and_only_the_edited_crate_compiles(
    tmp_path: Path, how: str, preserve_mtimes: bool
) -> None:
    root = outside_reads_workspace(tmp_path, metadata=how == "metadata")
    target = ["-p", "app"]
    extra = ["--include", "proto", "--include", "README.md"] if how == "flag" else []
    cargo = ["--release", *target]
    f = DockerFlow(tmp_path, root, prepare_args=[*target, *extra], cook_args=cargo, build_args=cargo)
    recipe = f.prepare()
    assert recipe_paths(recipe)["proto/x.proto"] == "extra"
    assert recipe_paths(recipe)["README.md"] == "extra"
    f.cook(recipe)
    (root / "app/src/main.rs").write_text((root / "app/src/main.rs").read_text().replace("app:", "app v2:"))
    assert f.cook(f.prepare())
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"app"}
    assert f.run_binary(stage, "app") == "app v2: message X v1 / readme v1"
    # An edit to the proto file changes the recipe: cook compiles protolib again, the final stage only app.
    (root / "proto/x.proto").write_text("message X v2")
    assert not f.cook(f.prepare())
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"app"}
    assert f.run_binary(stage, "app") == "app v2: message X v2 / readme v1"


def test_a_proto_edit_over_a_stale_cooked_layer_recompiles_the_kept_crate_in_the_final_stage(
    tmp_path: Path,
) -> None:
    root = outside_reads_workspace(tmp_path)
    cargo = ["--release", "-p", "app"]
    f = DockerFlow(
        tmp_path,
        root,
        prepare_args=["-p", "app", "--include", "proto", "--include", "README.md"],
        cook_args=cargo,
        build_args=cargo,
    )
    f.cook(f.prepare())
    (root / "proto/x.proto").write_text("message X v3")  # the layer is not cooked again (e.g. --cache-from)
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"protolib", "app"}
    assert f.run_binary(stage, "app") == "app: message X v3 / readme v1"


def test_explain_shows_the_extra_paths_and_where_they_come_from(tmp_path: Path) -> None:
    root = outside_reads_workspace(tmp_path, metadata=True)
    proc = ok(chefpy(["prepare", "-p", "app", "--include", "proto/*.proto", "--explain"], root))
    assert "  proto/x.proto  extra path (--include proto/*.proto), 1 file(s)" in proc.stdout
    assert "  proto/  extra path (workspace.metadata.chefpy.include proto), 1 file(s)" in proc.stdout
    assert "  README.md  extra path (workspace.metadata.chefpy.include README.md), 1 file(s)" in proc.stdout


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ("../outside", 2, "outside the workspace root"),
        ("/etc/passwd", 2, "outside the workspace root"),
        ("link-out", 2, "leads outside the workspace"),  # a symlink in the root: resolved, as said
        ("missing.proto", 4, "matches nothing"),
        ("proto/*.missing", 4, "matches nothing"),
        ("protolib", 4, "is a package directory"),
    ],
)
def test_a_bad_extra_path_is_one_error_and_one_hint(
    tmp_path: Path, spec: str, code: int, message: str
) -> None:
    root = outside_reads_workspace(tmp_path)
    (tmp_path / "context" / "outside").mkdir()
    (root / "link-out").symlink_to(tmp_path / "context" / "outside")
    proc = chefpy(["prepare", "-p", "app", "--include", spec], root)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert [line for line in lines if line.startswith("error: ")] == [next(x for x in lines if message in x)]
    assert len([line for line in lines if line.startswith("hint: ")]) == 1
    assert not (root / "recipe.json").exists()


# --- trees deeper than Python's recursion limit ------------------------------------------------------


@pytest.mark.parametrize("depth", [1100, 2100], ids=["deeper-than-recursion-limit", "longer-than-path-max"])
def test_a_deep_tree_in_a_kept_crate_is_carried_or_refused_cleanly(tmp_path: Path, depth: int) -> None:
    from tests.test_carry import make_deep

    root = root_package_workspace(tmp_path)
    stale = (root / "recipe.json").read_bytes()
    make_deep(root / "crates/exc", depth)
    try:
        proc = chefpy(["prepare", "-p", "cli"], root)
        assert "Traceback" not in proc.stderr
        if depth == 1100:
            ok(proc)
            assert "crates/exc/" + "d/" * depth + "bottom.rs" in recipe_paths(
                (root / "recipe.json").read_bytes()
            )
        else:
            assert proc.returncode == 3, proc.stderr
            errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
            assert len(errors) == 1
            assert "its path is too long" in errors[0]
            assert (root / "recipe.json").read_bytes() == stale
    finally:
        subprocess.run(["rm", "-rf", str(root / "crates/exc/d")], check=True)
