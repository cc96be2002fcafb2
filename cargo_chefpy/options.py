"""The cargo build flags that cook and build share, and the pure function that turns them into argv."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from cargo_chefpy.errors import UsageError


class Command(Enum):
    BUILD = "build"
    CHECK = "check"
    CLIPPY = "clippy"


@dataclass(frozen=True, slots=True, kw_only=True)
class CargoOptions:
    command: Command = Command.BUILD
    profile: str | None = None  # None = dev; --release = "release"
    targets: tuple[str, ...] = ()  # --target triples
    target_dir: str | None = None
    features: tuple[str, ...] = ()
    all_features: bool = False
    no_default_features: bool = False
    packages: tuple[str, ...] = ()
    workspace: bool = False
    bins: tuple[str, ...] = ()
    all_bins: bool = False
    tests: bool = False
    benches: bool = False
    examples: bool = False
    all_targets: bool = False
    offline: bool = False
    locked: bool = False
    frozen: bool = False
    jobs: str | None = None
    timings: bool = False
    verbose: int = 0
    quiet: bool = False
    unstable: tuple[str, ...] = ()
    manifest_path: str | None = None
    extra: tuple[str, ...] = ()

    @property
    def profile_name(self) -> str:
        return self.profile or "dev"

    @property
    def profile_dir(self) -> str:
        """The directory cargo uses under the target dir for this profile."""
        return {"dev": "debug", "test": "debug", "bench": "release"}.get(self.profile_name, self.profile_name)

    def with_default_packages(self, packages: tuple[str, ...], bins: tuple[str, ...]) -> CargoOptions:
        """Fill in the recipe's targets when the user named none."""
        if self.packages or self.workspace or self.bins or self.all_bins:
            return self
        from dataclasses import replace

        if bins:
            return replace(self, bins=bins)
        if packages:
            return replace(self, packages=packages)
        return replace(self, workspace=True)

    def drift_fields(self) -> dict[str, Any]:
        """What must match between cook and build for cargo to reuse the cooked dependencies."""
        return {
            "profile": self.profile_name,
            "targets": sorted(self.targets),
            "features": sorted(f for spec in self.features for f in spec.replace(",", " ").split()),
            "all_features": self.all_features,
            "no_default_features": self.no_default_features,
            "command": self.command.value,
        }


def validate_profile(release: bool, profile: str | None) -> None:
    """--release is --profile release: any other --profile with it is a contradiction."""
    if release and profile is not None and profile != "release":
        raise UsageError(
            f"--release and --profile {profile} contradict each other",
            hint="pass only one of them (--release is --profile release)",
        )


def cargo_args(options: CargoOptions, *, offline: bool, message_format: str | None = None) -> list[str]:
    """The argv after `cargo` for a build with these options. Pure."""
    args = [options.command.value]
    for flag in options.unstable:
        args += ["-Z", flag]
    if options.profile is not None:
        args += ["--profile", options.profile]
    for triple in options.targets:
        args += ["--target", triple]
    if options.target_dir is not None:
        args += ["--target-dir", options.target_dir]
    if options.manifest_path is not None:
        args += ["--manifest-path", options.manifest_path]
    if options.features:
        args += ["--features", ",".join(options.features)]
    if options.all_features:
        args.append("--all-features")
    if options.no_default_features:
        args.append("--no-default-features")
    if options.workspace:
        args.append("--workspace")
    for package in options.packages:
        args += ["-p", package]
    for name in options.bins:
        args += ["--bin", name]
    for flag, on in (
        ("--bins", options.all_bins),
        ("--tests", options.tests),
        ("--benches", options.benches),
        ("--examples", options.examples),
        ("--all-targets", options.all_targets),
        ("--locked", options.locked),
        ("--frozen", options.frozen),
        ("--timings", options.timings),
        ("--quiet", options.quiet),
    ):
        if on:
            args.append(flag)
    if offline or options.offline:
        args.append("--offline")
    if options.jobs is not None:
        args += ["-j", options.jobs]
    args += ["-v"] * options.verbose
    if message_format is not None:
        args += ["--message-format", message_format]
    args += list(options.extra)
    return args
