"""The planner: every local crate lands in exactly one class, for the right reason."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from cargo_chefpy.errors import SelectionError, UsageError
from cargo_chefpy.metadata import parse_metadata
from cargo_chefpy.options import Selection
from cargo_chefpy.plan import Plan, make_plan
from cargo_chefpy.recipe import CrateClass
from cargo_chefpy.workspace import Workspace, load_workspace
from tests.conftest import FakeWorkspace


def load(ws: FakeWorkspace) -> Workspace:
    return load_workspace(parse_metadata(ws.metadata), lambda p: Path(p).read_text())


def classes(plan: Plan) -> dict[str, str]:
    return {d.crate.name: d.klass.value for d in plan.decisions}


@pytest.fixture
def seed(workspace: Callable[..., FakeWorkspace]) -> Workspace:
    return load(workspace("seed", register=0))


@pytest.fixture
def seed_all(workspace: Callable[..., FakeWorkspace]) -> Workspace:
    return load(workspace("seed-all", register=0))


def test_target_is_stubbed_its_libraries_kept_and_other_services_pruned(seed: Workspace) -> None:
    plan = make_plan(seed, Selection(packages=("serviceZ",)))
    assert classes(plan) == {
        "serviceZ": "stub",
        "libA": "keep",
        "libB": "keep",
        "libC": "keep",
        "serviceX": "prune",
        "serviceY": "prune",
        "fake-patched": "external",
    }
    reasons = {d.crate.name: d.reason for d in plan.decisions}
    assert reasons["serviceZ"] == "target (-p serviceZ)"
    assert reasons["libB"] == "real sources, needed by serviceZ"


def test_no_target_stubs_every_member_like_cargo_chef(seed: Workspace) -> None:
    plan = make_plan(seed, Selection())
    assert {n for n, k in classes(plan).items() if k == "stub"} == {
        "libA", "libB", "libC", "serviceX", "serviceY", "serviceZ"
    }  # fmt: skip
    assert not plan.of(CrateClass.PRUNE)


def test_a_crate_that_depends_on_a_stub_is_stubbed_too(seed: Workspace) -> None:
    plan = make_plan(seed, Selection(packages=("serviceZ",), stub=("libA",)))
    got = classes(plan)
    assert got["libA"] == got["libB"] == got["libC"] == "stub"
    assert next(d.reason for d in plan.decisions if d.crate.name == "libB") == "depends on stubbed libA"


def test_stub_accepts_a_glob(seed: Workspace) -> None:
    plan = make_plan(seed, Selection(packages=("serviceZ",), stub=("lib[BC]",)))
    got = classes(plan)
    assert (got["libA"], got["libB"], got["libC"]) == ("keep", "stub", "stub")


def test_bin_selects_the_package_that_owns_it(seed: Workspace) -> None:
    plan = make_plan(seed, Selection(bins=("serviceY",)))
    assert plan.targets == ("serviceY",)
    assert classes(plan)["serviceY"] == "stub"
    assert classes(plan)["serviceZ"] == "prune"


def test_keeping_a_crate_that_depends_on_a_stub_is_refused(seed: Workspace) -> None:
    with pytest.raises(SelectionError, match="libB cannot be kept"):
        make_plan(seed, Selection(packages=("serviceZ",), stub=("libA",), keep=("libB",)))


def test_a_crate_both_stubbed_and_kept_is_a_usage_error(seed: Workspace) -> None:
    with pytest.raises(UsageError, match="both --stub and --keep"):
        make_plan(seed, Selection(packages=("serviceZ",), stub=("libA",), keep=("libA",)))


def test_keeping_the_target_is_a_usage_error(seed: Workspace) -> None:
    with pytest.raises(UsageError, match="cannot be kept"):
        make_plan(seed, Selection(packages=("serviceZ",), keep=("serviceZ",)))


def test_unknown_package_names_the_closest_packages(seed: Workspace) -> None:
    with pytest.raises(SelectionError) as info:
        make_plan(seed, Selection(packages=("servicez",)))
    assert "servicez" in info.value.message
    assert "serviceZ" in info.value.hint


def test_unknown_bin_names_the_closest_bins(seed: Workspace) -> None:
    with pytest.raises(SelectionError) as info:
        make_plan(seed, Selection(bins=("serviceQ",)))
    assert "did you mean" in info.value.hint


def test_optional_path_dependency_behind_a_feature_is_in_the_closure(seed_all: Workspace) -> None:
    got = classes(make_plan(seed_all, Selection(packages=("serviceX",))))
    assert got["libC"] == "keep"


def test_renamed_path_dependency_is_in_the_closure(seed_all: Workspace) -> None:
    got = classes(make_plan(seed_all, Selection(packages=("serviceY",))))
    assert got["libA"] == "keep"
    assert got["libB"] == got["libC"] == "prune"


def test_patch_crate_and_outside_path_dependency_are_external(seed_all: Workspace) -> None:
    plan = make_plan(seed_all, Selection(packages=("serviceZ",)))
    external = {d.crate.name: d.reason for d in plan.of(CrateClass.EXTERNAL)}
    assert external["fake-patched"] == "[patch] path crate"
    outside = [n for n, r in external.items() if "outside the workspace root" in r]
    assert len(outside) == 1


def test_member_named_like_a_vendored_crate_is_planned_by_its_directory(seed_all: Workspace) -> None:
    plan = make_plan(seed_all, Selection(packages=("serviceX",)))
    local_log = [d for d in plan.decisions if d.crate.name == "fake-log"]
    assert len(local_log) == 1
    assert local_log[0].klass is CrateClass.KEEP
    assert local_log[0].crate.directory.endswith(os.sep + "fake-log")


def test_every_local_crate_gets_exactly_one_class(seed_all: Workspace) -> None:
    plan = make_plan(seed_all, Selection(packages=("serviceZ",)))
    directories = [d.crate.directory for d in plan.decisions]
    assert len(directories) == len(set(directories)) == len(seed_all.crates)


@pytest.mark.parametrize(
    "spec",
    [
        "serviceZ",
        "serviceZ@0.3.0",
        "serviceZ:0.3.0",
        "path+file:///ws/src/serviceZ#0.3.0",
        "path+file:///ws#serviceZ@0.3.0",
    ],
)
def test_p_takes_every_spec_form_cargo_takes(seed: Workspace, spec: str) -> None:
    """A package id (`cargo pkgid` prints `path+file:///…/serviceZ#0.3.0`) named nothing before."""
    assert classes(make_plan(seed, Selection(packages=(spec,))))["serviceZ"] == "stub"
