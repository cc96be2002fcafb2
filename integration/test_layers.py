"""Stacked cook layers with real cargo: layer 1 (recipe.deps.json, third-party) and layer 2 (recipe.json,
local) cooked on top of it, as the generated Dockerfile does.

"Compiled" is read from cargo's own `Compiling` lines of each stage (cook runs cargo with JSON messages
and keeps its status lines on stderr).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.support.flow import DockerFlow, chefpy, ok
from integration.support.shapes import all_shapes, apply_edits, write_shape
from integration.support.workspaces import SeedOptions, copy_tree, run_cargo, set_all_mtimes, write_seed
from integration.test_prepare import add_dependency, append, bump_version, replace

BOTH_MODES = pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
OLD = 1_000_000_000.0  # 2001: older than any build output
LOCAL_LAYER = {"serviceZ", "libA", "libB", "libC", "fake-patched"}  # the target's stub, kept, external


def seed(tmp: Path, **options: object) -> Path:
    root = tmp / "context" / "ws"
    write_seed(root, SeedOptions(**options))  # type: ignore[arg-type]
    return root


def layered(tmp: Path, root: Path) -> DockerFlow:
    args = ["--release", "-p", "serviceZ"]
    return DockerFlow(
        tmp, root, prepare_args=["-p", "serviceZ"], cook_args=args, build_args=args, layers=True
    )


def third_party(root: Path) -> set[str]:
    lock = tomllib.loads((root / "Cargo.lock").read_text())
    return {p["name"] for p in lock["package"] if "source" in p}


def deps_recipe(root: Path) -> bytes:
    return ok(
        chefpy(
            [
                "prepare",
                "-p",
                "serviceZ",
                "--recipe-path",
                str(root.parent / "r.json"),
                "--deps-recipe-path",
                "-",
            ],
            root,
        )
    ).stdout.encode()


@BOTH_MODES
def test_an_edit_to_lib_b_reuses_layer_1_and_recooks_only_local_crates(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    root = seed(tmp_path)
    f = layered(tmp_path, root)
    f.cook(f.prepare())
    first_deps = f.deps_recipe
    assert f.cook_compiled["deps"] >= {"fake-json", "fake-serde"}, f.cook_compiled
    path = root / "src/libB/src/lib.rs"
    path.write_text(path.read_text().replace('"libB v1"', '"libB v2"'))
    reused = f.cook(f.prepare())
    assert not reused
    assert f.deps_recipe == first_deps, "an edit to a kept crate must leave the layer-1 recipe byte-identical"
    assert f.deps_reused
    assert "deps" not in f.cook_compiled
    compiled = f.cook_compiled["local"]
    assert not compiled & third_party(root), f"layer 2 compiled third-party crates: {compiled}"
    assert compiled == LOCAL_LAYER, "layer 2 compiles exactly the local crates (the target's stub among them)"
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"serviceZ"}
    assert "libB v2" in f.run_binary(stage, "serviceZ")


@BOTH_MODES
def test_an_edit_to_service_z_reuses_both_layers(tmp_path: Path, preserve_mtimes: bool) -> None:
    root = seed(tmp_path)
    f = layered(tmp_path, root)
    f.cook(f.prepare())
    dummies = sorted(
        p.relative_to(f.snapshot).as_posix()
        for p in f.snapshot.rglob("*.rs")
        if "target" not in p.parts
        and "vendored" not in p.parts
        and "Stubbed by cargo-chefpy" in p.read_text()
    )
    assert dummies == ["src/serviceZ/src/main.rs"], "no layer-1 dummy survives layer 2 but the target's own"
    path = root / "src/serviceZ/src/main.rs"
    path.write_text(path.read_text().replace("serviceZ says hello", "serviceZ says hola"))
    assert f.cook(f.prepare()), "layer 2 must be reused"
    assert f.deps_reused
    assert f.deps_cooks == 1
    assert f.cooks == 1
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"serviceZ"}
    assert "serviceZ says hola" in f.run_binary(stage, "serviceZ")
    assert "Settled" in stage.stderr


DOCKERFILE_FLAGS = {
    "r": ["-r", "-p", "serviceZ"],
    "keep_going_after_double_dash": ["--release", "-p", "serviceZ", "--", "--keep-going"],
    "frozen_j1_timings": ["--release", "--frozen", "-j", "1", "--timings", "-p", "serviceZ"],
    "feature_of_a_kept_library": ["--release", "-p", "serviceZ", "--features", "libB/fancy"],
}


def _fancy_lib_b(root: Path) -> None:
    """libB gets a feature `fancy` (an optional third-party dependency) for `--features libB/fancy`."""
    replace(
        root / "src/libB/Cargo.toml",
        "[dependencies]\n",
        '[dependencies]\nfake-serde = { version = "1.0", optional = true }\n',
    )
    append(root / "src/libB/Cargo.toml", '\n[features]\nfancy = ["dep:fake-serde"]\n')
    run_cargo(["generate-lockfile", "--offline"], root)


@pytest.mark.parametrize("name", sorted(DOCKERFILE_FLAGS))
def test_cook_and_build_flags_from_real_dockerfiles_still_compile_only_the_edited_crates(
    tmp_path: Path, name: str
) -> None:
    """The same flags on both cook layers and the build (as a Dockerfile has them): an edit to libB
    recooks layer 2 only, and the final stage (a CI checkout) compiles serviceZ alone, the edited code."""
    root = seed(tmp_path)
    _fancy_lib_b(root)
    args = DOCKERFILE_FLAGS[name]
    f = DockerFlow(
        tmp_path, root, prepare_args=["-p", "serviceZ"], cook_args=args, build_args=args, layers=True
    )
    f.cook(f.prepare())
    replace(root / "src/libB/src/lib.rs", '"libB v1"', '"libB v2"')
    assert not f.cook(f.prepare())
    assert f.deps_reused
    assert not f.cook_compiled["local"] & third_party(root)
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"serviceZ"}
    assert "libB v2" in f.run_binary(stage, "serviceZ")


@pytest.mark.parametrize(
    "selection",
    [["--examples"], ["--", "--example", "tour"], ["--", "--test", "explicit"]],
    ids=["examples", "example_tour", "test_explicit"],
)
def test_examples_and_named_tests_of_the_target_are_cooked_for_so_the_final_stage_compiles_only_the_target(
    tmp_path: Path, selection: list[str]
) -> None:
    """The stubbed target has no examples or tests in the skeleton: cook builds what they need (the
    dependencies, dev-dependencies among them) instead of nothing, or failing on a name it lacks."""
    shape = next(s for s in all_shapes() if s.name == "examples-tests-benches-dirs")
    root = tmp_path / "context" / "ws"
    write_shape(shape, root)
    args = ["--release", "-p", "app", *selection]
    f = DockerFlow(tmp_path, root, prepare_args=["-p", "app"], cook_args=args, build_args=args, layers=True)
    f.cook(f.prepare())
    assert "lib" in f.cook_compiled["local"]
    apply_edits(shape, root)
    assert f.cook(f.prepare())
    stage = f.final(preserve_mtimes=False)
    assert stage.compiled == {"app"}


def test_a_kept_crate_at_version_0_0_1_with_old_mtimes_is_never_taken_as_fresh_in_layer_2(
    tmp_path: Path,
) -> None:
    """The stale-dummy trap between the layers: layer 1 compiles libB's stub as libB 0.0.1; layer 2's
    real libB is 0.0.1 too, with old mtimes; were the stub's outputs left, cargo would take them."""
    root = seed(tmp_path)
    bump_version(root / "src/libB/Cargo.toml", "0.2.0", "0.0.1")
    set_all_mtimes(root, OLD)
    f = layered(tmp_path, root)
    f.cook(f.prepare())
    assert "libB" in f.cook_compiled["deps"]
    assert "libB" in f.cook_compiled["local"]
    stage = f.final(preserve_mtimes=True)
    assert stage.compiled == {"serviceZ"}
    assert "libB v1" in f.run_binary(stage, "serviceZ")


def test_layer_2_refuses_a_file_layer_1_did_not_write(tmp_path: Path) -> None:
    _, work = _stacked_workdir(tmp_path)
    (work / "src/libA/src/lib.rs").write_text("// someone else's\n")
    proc = chefpy(["cook", "-p", "serviceZ"], work)
    assert proc.returncode != 0
    assert "src/libA/src/lib.rs" in proc.stderr
    assert "--force" in proc.stderr
    wrong = chefpy(["cook", "--layer", "deps"], work)
    assert wrong.returncode != 0
    assert "--layer deps" in wrong.stderr


def _unrelated_member(r: Path) -> None:
    (r / "src/serviceW/src").mkdir(parents=True)
    (r / "src/serviceW/Cargo.toml").write_text(
        '[package]\nname = "serviceW"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (r / "src/serviceW/src/main.rs").write_text("fn main() {}\n")
    replace(r / "Cargo.toml", "members = [\n", 'members = [\n    "src/serviceW",\n')
    run_cargo(["generate-lockfile", "--offline"], r)


DEPS_UNCHANGED: dict[str, Callable[[Path], None]] = {
    "kept_source_edit": lambda r: append(r / "src/libB/src/lib.rs", "\n// edit\n"),
    "kept_version_bump": lambda r: bump_version(r / "src/libA/Cargo.toml", "1.2.3", "1.3.0"),
    "kept_description": lambda r: replace(
        r / "src/libA/Cargo.toml", "[package]\n", '[package]\ndescription = "now described"\n'
    ),
    "kept_new_bin": lambda r: append(r / "src/libB/src/bin/tool.rs", "fn main() {}\n"),
    "kept_new_example": lambda r: append(r / "src/libC/examples/demo.rs", "fn main() {}\n"),
    "kept_new_test": lambda r: append(r / "src/libA/tests/it.rs", "#[test] fn t() {}\n"),
    "external_source_edit": lambda r: append(next((r / "rust-patches").glob("*/src/lib.rs")), "\n// e\n"),
    "unrelated_member": _unrelated_member,
}

DEPS_CHANGED: dict[str, Callable[[Path], None]] = {
    "vendored_dependency_added_to_lib_a": lambda r: add_dependency(
        r / "src/libA/Cargo.toml", 'fake-extra = "0.1"'
    ),
    "cargo_config": lambda r: append(r / ".cargo/config.toml", "\n[net]\noffline = true\n"),
    "toolchain_file": lambda r: append(r / "rust-toolchain.toml", '[toolchain]\nchannel = "stable"\n'),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "ws"
    write_seed(root)
    return root


@pytest.mark.parametrize("name", sorted(DEPS_UNCHANGED))
def test_the_layer_1_recipe_is_byte_identical_after(pristine: Path, tmp_path: Path, name: str) -> None:
    root = tmp_path / "ws"
    copy_tree(pristine, root, preserve_mtimes=True)
    before = deps_recipe(root)
    assert json.loads(before)["layer"] == "deps"
    DEPS_UNCHANGED[name](root)
    assert deps_recipe(root) == before


@pytest.mark.parametrize("name", sorted(DEPS_CHANGED))
def test_the_layer_1_recipe_changes_after(pristine: Path, tmp_path: Path, name: str) -> None:
    root = tmp_path / "ws"
    copy_tree(pristine, root, preserve_mtimes=True)
    before = deps_recipe(root)
    DEPS_CHANGED[name](root)
    assert deps_recipe(root) != before


def test_explain_names_the_inputs_of_each_layer(pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    copy_tree(pristine, root, preserve_mtimes=True)
    out = ok(chefpy(["prepare", "--explain", "-p", "serviceZ"], root)).stdout
    one, two = out.split("Layer 1, third-party (recipe.deps.json)", 1)[1].split(
        "Layer 2, local (recipe.json)"
    )
    assert "Cargo.lock" in one
    assert "vendored/" in one
    assert "sources, version, description" in one
    assert "src/libB/  package files (real sources)" in two
    assert (root / "recipe.deps.json").is_file()
    assert (root / "recipe.json").is_file()


def _stacked_workdir(tmp_path: Path) -> tuple[Path, Path]:
    """The seed's recipes in an empty WORKDIR with vendored/, layer 1 cooked there; (seed, WORKDIR)."""
    root = seed(tmp_path)
    work = tmp_path / "app"
    copy_tree(root / "vendored", work / "vendored", preserve_mtimes=False)
    ok(chefpy(["prepare", "-p", "serviceZ", "--recipe-path", str(tmp_path / "recipe.json")], root))
    for name in ("recipe.json", "recipe.deps.json"):
        (work / name).write_bytes((tmp_path / name).read_bytes())
    ok(chefpy(["cook", "--recipe-path", "recipe.deps.json", "--layer", "deps", "-p", "serviceZ"], work))
    return root, work


def _stamp(work: Path) -> dict[str, object]:
    stamp: dict[str, object] = json.loads((work / "target/cargo-chefpy-stamp.json").read_text())
    return stamp


def test_a_second_layer_2_cook_in_the_same_directory_keeps_what_layer_1_cooked(tmp_path: Path) -> None:
    """Cooking layer 2 again (the same recipe, or a new one after an edit) must not forget layer 1: its
    stamp merged into the first layer-2 cook's is merged again, so build still settles and cleans it."""
    root, work = _stacked_workdir(tmp_path)
    layer_1 = _stamp(work)
    ok(chefpy(["cook", "--layer", "local", "-p", "serviceZ"], work))
    first = _stamp(work)
    assert set(first["stub_created_dirs"]) >= set(layer_1["stub_created_dirs"])  # type: ignore[call-overload]
    ok(chefpy(["cook", "--layer", "local", "-p", "serviceZ"], work))
    again = _stamp(work)
    for key in ("files", "vendored", "dirs", "stub_created_dirs"):
        assert again[key] == first[key], key
    append(root / "src/libB/src/lib.rs", "\npub const EDITED: u32 = 1;\n")
    ok(chefpy(["prepare", "-p", "serviceZ", "--recipe-path", str(work / "recipe.json")], root))
    ok(chefpy(["cook", "--layer", "local", "--force", "-p", "serviceZ"], work))
    edited = _stamp(work)
    assert set(edited["stub_created_dirs"]) == set(first["stub_created_dirs"])  # type: ignore[call-overload]
    assert edited["vendored"] == first["vendored"]
    assert edited["files"] != first["files"]  # libB's lib.rs


def test_cook_no_build_on_layer_2_finds_the_layer_1_cook_beneath_it(tmp_path: Path) -> None:
    """As a cook that builds does: the files layer 1 wrote are layer 2's to overwrite, and layer 1's
    dummy sources that layer 2 does not write are removed."""
    _, work = _stacked_workdir(tmp_path)
    layer_1 = _stamp(work)
    proc = chefpy(["cook", "--layer", "local", "--no-build", "-p", "serviceZ"], work)
    assert proc.returncode == 0, proc.stderr
    assert "layer 2, local" in proc.stderr
    assert "Stubbed by cargo-chefpy" not in (work / "src/libB/src/lib.rs").read_text()
    stubs = layer_1["stub_files"]
    assert isinstance(stubs, dict)
    recipe = json.loads((work / "recipe.json").read_text())
    ours = {f["path"] for f in recipe["files"]}
    for rel in sorted(set(stubs) - ours):
        assert not (work / rel).exists(), f"layer 1's dummy {rel} survived a --no-build layer-2 cook"
