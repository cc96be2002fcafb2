"""Several services in one Dockerfile, with real cargo: the stages of `dockerfile -p serviceX -p serviceY
-p serviceZ` run in one fixed WORKDIR, as Docker runs them.

The shared deps stage cooks the one third-party recipe once per service (against cargo's feature
unification across the packages of one invocation); each service's layer-2 cook and final build then
compile no third-party crate. "Compiled" is read from cargo's `Compiling` lines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Final

from integration.bench_services import run_workspace, verdict
from integration.support.flow import ROOT, DockerFlow, chefpy, compiled, ok, replace_tree
from integration.support.workspaces import (
    FakeCrate,
    add_dependency,
    copy_tree,
    run_cargo,
    with_optional_dependency,
    write_registry,
    write_seed,
)

SERVICES = ("serviceX", "serviceY", "serviceZ")


def third_party(root: Path) -> set[str]:
    lock = tomllib.loads((root / "Cargo.lock").read_text())
    return {p["name"] for p in lock["package"] if "source" in p}


def shared_flow(tmp_path: Path, context: Path, services: tuple[str, ...] = SERVICES) -> Counter[str]:
    """Run the multi-service Dockerfile's stages on `context`; what the shared deps stage compiled of the
    third-party crates, by crate (once per feature set). Asserts that each service's cook-S and build-S
    stages compile no third-party crate, and its build only the service itself."""
    planner = tmp_path / "planner"
    copy_tree(context, planner, preserve_mtimes=True)
    union = [w for s in services for w in ("-p", s)]
    ok(chefpy(["prepare", *union, "--recipe-path", "all.json", "--deps-recipe-path", "deps.json"], planner))
    for s in services:
        ok(chefpy(["prepare", "-p", s, "--recipe-path", f"{s}.json"], planner))

    app, target = tmp_path / "app", tmp_path / "app-target"
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    app.mkdir()
    (app / "deps.json").write_bytes((planner / "deps.json").read_bytes())
    copy_tree(context / "vendored", app / "vendored", preserve_mtimes=True)
    deps_compiled: Counter[str] = Counter()
    for s in services:  # the deps stage: one cook per service
        proc = ok(chefpy(["cook", "--release", "-p", s, "--recipe-path", "deps.json"], app, env=env))
        deps_compiled.update(compiled(proc) & third_party(context))
    stamp = json.loads((target / "cargo-chefpy-stamp.json").read_text())
    assert stamp["packages"] == list(services), "each deps cook keeps what the earlier ones recorded"

    saved_app, saved_target = tmp_path / "deps-app", tmp_path / "deps-target"
    replace_tree(app, saved_app)
    replace_tree(target, saved_target)
    for s in services:  # each service's cook and build stages, FROM deps
        replace_tree(saved_app, app)
        replace_tree(saved_target, target)
        (app / "recipe.json").write_bytes((planner / f"{s}.json").read_bytes())
        cook = ok(chefpy(["cook", "--release", "-p", s], app, env=env))
        assert not compiled(cook) & third_party(context), (s, cook.stderr)
        copy_tree(context, app, preserve_mtimes=False)  # COPY . . in a fresh checkout: new mtimes
        build = ok(chefpy(["build", "--release", "-p", s], app, env=env))
        assert compiled(build) == {s}, (s, build.stderr)
    return deps_compiled


def test_a_shared_deps_layer_cooked_once_per_service_leaves_no_third_party_crate_to_any_service(
    tmp_path: Path,
) -> None:
    context = tmp_path / "context"
    write_seed(context)
    deps_compiled = shared_flow(tmp_path, context)
    # This seed's services ask the same features of every third-party crate they share: each compiles once.
    assert deps_compiled == Counter(third_party(context)), deps_compiled


FEATURED_LIB: Final = """\
//! fake-extra 0.1.0 with two features, each adding a function.

#[cfg(feature = "alpha")]
pub fn alpha() -> &'static str {
    "alpha"
}

#[cfg(feature = "beta")]
pub fn beta() -> &'static str {
    "beta"
}
"""


def with_featured_crate(context: Path) -> None:
    """serviceX uses fake-extra with its feature `alpha`, serviceY with `beta` (and calls it)."""
    features = {"alpha": (), "beta": ()}
    crate = FakeCrate(name="fake-extra", version="0.1.0", lib_rs=FEATURED_LIB, features=features)
    write_registry(context / "vendored", [crate])
    for service, feature in (("serviceX", "alpha"), ("serviceY", "beta")):
        add_dependency(context, service, f'fake-extra = {{ version = "0.1", features = ["{feature}"] }}')
        main_rs = context / "src" / service / "src" / "main.rs"
        main_rs.write_text(
            main_rs.read_text() + f"\n#[allow(dead_code)]\nfn extra() -> &'static str {{\n"
            f"    fake_extra::{feature}()\n}}\n"
        )
    run_cargo(["generate-lockfile", "--offline"], context)


def test_two_services_asking_different_features_of_one_crate_compile_it_once_each_in_the_deps_stage_only(
    tmp_path: Path,
) -> None:
    context = tmp_path / "context"
    write_seed(context)
    with_featured_crate(context)
    deps_compiled = shared_flow(tmp_path, context)
    # fake-extra: once for serviceX (alpha), once for serviceY (beta); serviceZ does not use it.
    assert deps_compiled == Counter(third_party(context)) + Counter({"fake-extra": 1}), deps_compiled


def test_the_services_bench_counts_third_party_compilations_of_each_approach_from_cargos_lines(
    tmp_path: Path,
) -> None:
    """integration/bench_services.py on the seed: what `make bench` reports, checked against the seed's
    known closures (serviceX: fake-log, fake-libc; serviceY: those and fake-derive; serviceZ: those and
    fake-serde, fake-json; libA, which all use, brings fake-log and fake-libc)."""
    context = tmp_path / "context" / "ws"
    write_seed(context)
    tool = [sys.executable, str(ROOT / "bin" / "cargo-chefpy")]
    ws = dataclasses.asdict(run_workspace(tmp_path / "run", context, tool, lambda _: None))
    by = verdict(ws)["approaches"]
    assert by["shared"]["compiled_by_name"] == dict.fromkeys(sorted(third_party(context)), 1)
    assert by["per-service"]["compiled_by_name"] == {
        "fake-derive": 1,
        "fake-json": 1,
        "fake-libc": 3,
        "fake-log": 3,
        "fake-serde": 1,
    }
    assert by["shared"]["third_party_outside_cook"] == by["per-service"]["third_party_outside_cook"] == 0
    assert by["cargo-chef style"]["third_party"] >= by["per-service"]["third_party"]
    assert all(a["cook_cpu_seconds"] > 0 for a in by.values())
    assert verdict(ws)["compilation_ratio"] == round(5 / 9, 3)


def test_a_service_whose_crate_has_an_optional_dependency_only_another_service_enables_cooks_both_layers(
    tmp_path: Path,
) -> None:
    """The single-service Dockerfile (`dockerfile -p serviceX`): layer 1, layer 2 on top, then build."""
    context = tmp_path / "context"
    write_seed(context)
    with_optional_dependency(context)
    args = ["--release", "-p", "serviceX"]
    flow = DockerFlow(
        tmp_path / "flow",
        context,
        prepare_args=["-p", "serviceX"],
        cook_args=args,
        build_args=args,
        layers=True,
    )
    flow.cook(flow.prepare())
    assert flow.cook_compiled["deps"] & third_party(context) == {"fake-extra", "fake-libc", "fake-log"}
    assert not flow.cook_compiled["local"] & third_party(context)
    assert flow.final(preserve_mtimes=False).compiled == {"serviceX"}


def test_a_shared_deps_layer_for_services_that_leave_out_the_one_enabling_an_optional_dependency_cooks(
    tmp_path: Path,
) -> None:
    """`dockerfile -p serviceX -p serviceZ`: serviceY, which enables fake-extra's `opt`, is not built."""
    context = tmp_path / "context"
    write_seed(context)
    with_optional_dependency(context)
    deps_compiled = shared_flow(tmp_path, context, ("serviceX", "serviceZ"))
    assert "fake-opt" not in deps_compiled
    assert deps_compiled["fake-extra"] == 1
