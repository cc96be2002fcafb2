"""cargo_args is a pure function of the options: the argv cook and build hand to cargo."""

from __future__ import annotations

import pytest

from cargo_chefpy.errors import UsageError
from cargo_chefpy.options import CargoOptions, Command, cargo_args, validate


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


@pytest.mark.parametrize(
    ("release", "profile", "check", "clippy", "no_build"),
    [(True, "dev", False, False, False), (False, None, True, True, False), (False, None, True, False, True)],
)
def test_contradicting_flags_are_usage_errors(
    release: bool, profile: str | None, check: bool, clippy: bool, no_build: bool
) -> None:
    with pytest.raises(UsageError):
        validate(release, profile, check, clippy, no_build)
