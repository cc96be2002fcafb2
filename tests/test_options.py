"""cargo_args is a pure function of the options: the argv cook and build hand to cargo."""

from __future__ import annotations

from pathlib import Path

import pytest

from cargo_chefpy.cli import main
from cargo_chefpy.options import CargoOptions, Command, cargo_args, validate_profile


def test_cargo_args_for_a_release_build_of_one_package() -> None:
    options = CargoOptions(profile="release", packages=("serviceZ",), locked=True, jobs="2")
    assert cargo_args(options, offline=True) == [
        "build", "--profile", "release", "-p", "serviceZ", "--locked", "--offline", "-j", "2"
    ]  # fmt: skip


def test_cargo_args_carry_every_flag_in_a_stable_order() -> None:
    options = CargoOptions(
        command=Command.CHECK, targets=("x86_64-unknown-linux-gnu",), target_dir="out", features=("a", "b"),
        no_default_features=True, bins=("svc",), tests=True, unstable=("unstable-options",),
        extra=("--config", "net.offline=true"), verbose=1,
    )  # fmt: skip
    assert cargo_args(options, offline=False, message_format="json") == [
        "check", "-Z", "unstable-options", "--target", "x86_64-unknown-linux-gnu", "--target-dir", "out",
        "--features", "a,b", "--no-default-features", "--bin", "svc", "--tests", "-v",
        "--message-format", "json", "--config", "net.offline=true",
    ]  # fmt: skip


def test_recipe_targets_fill_in_only_when_the_user_named_none() -> None:
    assert CargoOptions().with_default_packages(("serviceZ",), ()).packages == ("serviceZ",)
    assert CargoOptions().with_default_packages((), ()).workspace
    assert CargoOptions(packages=("libA",)).with_default_packages(("serviceZ",), ()).packages == ("libA",)


def test_profile_directory_follows_cargo() -> None:
    assert CargoOptions().profile_dir == "debug"
    assert CargoOptions(profile="release").profile_dir == "release"
    assert CargoOptions(profile="custom").profile_dir == "custom"


ONE = "pass only one of them"


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["cook", "--release", "--profile", "dev"], "--release and --profile dev contradict each other",
         f"{ONE} (--release is --profile release)"),
        (["build", "--release", "--profile", "bench"], "--release and --profile bench contradict each other",
         f"{ONE} (--release is --profile release)"),
        (["cook", "--check", "--clippy"], "--check and --clippy exclude each other", ONE),
        (["cook", "--no-build", "--check"], "--check and --no-build exclude each other", ONE),
        (["build", "-q", "-v"], "--verbose and --quiet exclude each other", ONE),
        (["prepare", "--quiet", "--verbose"], "--verbose and --quiet exclude each other", ONE),
    ],
)  # fmt: skip
def test_contradicting_flags_are_one_usage_error_and_one_hint(
    args: list[str], message: str, hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args, cwd=tmp_path) == 2
    assert capsys.readouterr().err.splitlines()[:2] == [f"error: {message}", f"hint: {hint}"]


def test_release_with_the_release_profile_is_no_contradiction() -> None:
    validate_profile(True, "release")


def test_the_resolution_beside_a_build_gets_its_z_and_config_flags_also_from_after_the_double_dash() -> None:
    options = CargoOptions(
        unstable=("bindeps",),
        extra=(
            "--config",
            "vendor.toml",
            "--config=net.retry=2",
            "-Zgc",
            "-Z",
            "x",
            "-v",
            "--",
            "--config",
            "y",
        ),
    )
    assert options.resolution_args() == [
        "-Z", "bindeps", "--config", "vendor.toml", "--config=net.retry=2", "-Zgc", "-Z", "x",
    ]  # fmt: skip


def test_the_z_flags_checked_before_cook_and_build_are_ours_and_those_after_the_double_dash() -> None:
    options = CargoOptions(
        unstable=("bindeps",), extra=("--config", "a.toml", "-Zgc", "-Z", "x", "--", "-Z", "rustc")
    )
    assert options.unstable_args() == ["-Z", "bindeps", "-Zgc", "-Z", "x"]
    assert CargoOptions(extra=("--keep-going",)).unstable_args() == []


@pytest.mark.parametrize(
    ("options", "offline", "locked"),
    [
        (CargoOptions(), False, False),
        (CargoOptions(offline=True), True, False),
        (CargoOptions(locked=True), False, True),
        (CargoOptions(frozen=True), True, True),
        (CargoOptions(extra=("--frozen",)), True, True),
        (CargoOptions(extra=("--offline", "--locked")), True, True),
        (CargoOptions(extra=("--", "--frozen")), False, False),  # after a second `--`: not cargo's
    ],
)
def test_offline_and_locked_are_read_wherever_cargo_reads_them(
    options: CargoOptions, offline: bool, locked: bool
) -> None:
    assert (options.stays_offline, options.keeps_lock) == (offline, locked)


@pytest.mark.parametrize(
    ("options", "extra"),
    [
        (CargoOptions(examples=True, extra=("--keep-going",)), ("--keep-going",)),
        (CargoOptions(extra=("--example", "tour", "-v")), ("-v",)),
        (CargoOptions(extra=("--test=it", "--bench", "b", "--", "--example", "x")), ("--", "--example", "x")),
    ],
)
def test_cook_builds_tests_for_the_examples_and_named_targets_its_stubs_lack(
    options: CargoOptions, extra: tuple[str, ...]
) -> None:
    cooked = options.cook_targets()
    assert (cooked.examples, cooked.tests, cooked.extra) == (False, True, extra)


def test_cook_builds_other_target_selections_as_given() -> None:
    options = CargoOptions(all_targets=True, benches=True, extra=("--lib",))
    assert options.cook_targets() == options
