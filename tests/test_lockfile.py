"""Cargo.lock pruning and masking, on lock files written by real cargo for the fixture workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from cargo_chefpy import lockfile
from cargo_chefpy.errors import ProjectError

DATA = Path(__file__).parent / "data"
SEED = (DATA / "seed.lock").read_text()
SEED_ALL = (DATA / "seed-all.lock").read_text()
SEED_MEMBERS = [
    ("libA", "1.2.3"), ("libB", "0.2.0"), ("libC", "0.2.0"),
    ("serviceX", "0.2.0"), ("serviceY", "0.2.0"), ("serviceZ", "0.3.0"),
]  # fmt: skip


def prune_and_mask(text: str, roots: list[tuple[str, str]], masks: dict[str, str]) -> str:
    """What build_recipe does with the lock: keep what `roots` reach, then mask versions."""
    lock = lockfile.parse_lock(text)
    return lockfile.write_lock(lock, lockfile.reachable(lock, roots), masks)


def names(text: str) -> set[str]:
    return {f"{p.name} {p.version}" for p in lockfile.parse_lock(text).packages}


def test_pruning_from_every_member_without_masks_leaves_the_lock_byte_identical() -> None:
    assert prune_and_mask(SEED, SEED_MEMBERS, {}) == SEED


def test_pruning_keeps_exactly_what_the_remaining_members_reach_over_every_dependency_kind() -> None:
    remaining = [m for m in SEED_MEMBERS if m[0] in ("libA", "libB", "libC", "serviceZ")]
    pruned = prune_and_mask(SEED, remaining, {})
    assert "serviceX 0.2.0" not in names(pruned)
    assert "serviceY 0.2.0" not in names(pruned)
    assert "fake-derive 1.0.0" not in names(pruned)  # only serviceY uses it
    # Reached only through libA's dev-, build- and cfg(unix) dependencies: still locked.
    assert {"fake-log 0.4.0", "fake-libc 0.2.0", "fake-json 1.0.0"} <= names(pruned)
    assert "fake-patched 0.5.0" in names(pruned)  # the [patch] crate serviceZ uses


def test_masking_rewrites_the_stub_version_and_references_that_name_it() -> None:
    members = [("fake-log", "0.1.0"), ("serviceX", "0.2.0"), ("libA", "1.2.3"), ("libC", "0.2.0")]
    masked = prune_and_mask(SEED_ALL, members, {"fake-log": "0.0.1", "serviceX": "0.0.1"})
    assert 'name = "fake-log"\nversion = "0.0.1"\n' in masked
    assert ' "fake-log 0.0.1",\n' in masked
    assert ' "fake-log 0.4.0",\n' in masked  # the vendored crate of the same name is untouched
    assert 'name = "serviceX"\nversion = "0.0.1"\n' in masked
    assert "0.1.0" not in masked.split('name = "fake-log"', 1)[1].split("[[package]]", 1)[0]


def test_drop_unused_patches_removes_only_the_named_entries() -> None:
    gone = '[[patch.unused]]\nname = "gone"\nversion = "1.0.0"\n'
    kept = '[[patch.unused]]\nname = "kept"\nversion = "2.0.0"\n'
    text = f"{SEED}\n{gone}\n{kept}"
    out = lockfile.drop_unused_patches(text, {"gone"})
    assert 'name = "gone"' not in out
    assert '[[patch.unused]]\nname = "kept"\nversion = "2.0.0"\n' in out
    assert out.startswith(SEED.rstrip("\n"))


def test_a_member_missing_from_the_lock_is_reported_as_out_of_date() -> None:
    with pytest.raises(ProjectError, match="out of date: it has no entry for serviceQ"):
        lockfile.check_members(SEED, [("serviceQ", "0.1.0", ())])


def test_a_dependency_missing_from_the_lock_is_reported_as_out_of_date() -> None:
    with pytest.raises(ProjectError, match="serviceZ depends on fake-extra"):
        lockfile.check_members(SEED, [("serviceZ", "0.3.0", ("fake-extra", "libB"))])


def test_a_lock_that_is_not_toml_is_a_project_error() -> None:
    with pytest.raises(ProjectError, match=r"Cargo\.lock cannot be read"):
        lockfile.parse_lock("[[package]\nname = ")


def test_a_masked_version_is_sorted_among_packages_of_the_same_name_exactly_as_cargo_writes_it() -> None:
    # collide.lock: real cargo output for the all-options seed with the local fake-log at 0.5.0 beside the
    # vendored fake-log 0.4.0. collide-masked.lock: what cargo itself writes for the skeleton of
    # `prepare -p serviceX --stub fake-log` (captured with `cargo generate-lockfile` in that skeleton).
    members = [("fake-log", "0.5.0"), ("serviceX", "0.2.0"), ("libA", "1.2.3"), ("libC", "0.2.0")]
    masked = prune_and_mask(
        (DATA / "collide.lock").read_text(), members, {"fake-log": "0.0.1", "serviceX": "0.0.1"}
    )
    assert masked == (DATA / "collide-masked.lock").read_text()


def test_a_reference_to_a_missing_entry_is_a_project_error() -> None:
    broken = SEED.replace(' "fake-log",\n', ' "fake-nothing",\n', 1)
    with pytest.raises(ProjectError, match="fake-nothing"):
        prune_and_mask(broken, SEED_MEMBERS, {})


# A sources tree's lock for serviceX of the seed with fake-extra's optional fake-opt (which only the pruned
# serviceY enables), and the lock real cargo wrote when it resolved that tree: fake-opt and the edge to it
# gone.
OPTIONAL_PRUNED = (DATA / "optional-pruned.lock").read_text()
OPTIONAL_CARGO = (DATA / "optional-cargo.lock").read_text()
FAKE_OPT = "fake-opt 0.1.0 registry+https://github.com/rust-lang/crates.io-index"


def test_cargo_dropping_an_optional_dependency_only_a_pruned_member_enabled_is_a_pruning() -> None:
    ours, cargos = lockfile.parse_lock(OPTIONAL_PRUNED), lockfile.parse_lock(OPTIONAL_CARGO)
    assert lockfile.beyond_pruning(ours, cargos) == []
    assert lockfile.dropped(ours, cargos) == [FAKE_OPT]


def test_a_lock_that_cargo_had_to_extend_is_beyond_a_pruning() -> None:
    # the other way round: cargo added fake-opt, and fake-extra's edge to it
    ours, cargos = lockfile.parse_lock(OPTIONAL_CARGO), lockfile.parse_lock(OPTIONAL_PRUNED)
    assert lockfile.beyond_pruning(ours, cargos) == [
        "fake-extra 0.1.0 now depends on fake-opt 0.1.0",
        "fake-opt 0.1.0 added",
    ]
    assert lockfile.dropped(ours, cargos) == []


def test_another_checksum_for_a_kept_entry_is_beyond_a_pruning() -> None:
    ours = lockfile.parse_lock(OPTIONAL_PRUNED)
    checksum = next(p.checksum for p in ours.packages if p.name == "fake-opt")
    assert checksum is not None
    cargos = lockfile.parse_lock(OPTIONAL_PRUNED.replace(checksum, "0" * 64))
    assert lockfile.beyond_pruning(ours, cargos) == ["fake-opt 0.1.0: another checksum"]
