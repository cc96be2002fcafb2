"""What the user asked: the cargo build flags that cook and build share, and the pure function that turns
them into argv; prepare's selection and options, and the checks of its outputs made before any work."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cargo_chefpy import fsutil
from cargo_chefpy.errors import UsageError
from cargo_chefpy.paths import inside


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
    def keeps_lock(self) -> bool:
        """Whether cargo is told to keep Cargo.lock as it is (`--locked`, `--frozen`, also after `--`)."""
        return self.locked or self.frozen or any(a in ("--locked", "--frozen") for a in self._extra_flags())

    @property
    def stays_offline(self) -> bool:
        """Whether cargo is told not to use the network (`--offline`, `--frozen`, also after `--`)."""
        return self.offline or self.frozen or any(a in ("--offline", "--frozen") for a in self._extra_flags())

    def _extra_flags(self) -> list[str]:
        """The arguments after `--` that go to cargo itself (up to a second `--`)."""
        extra = list(self.extra)
        return extra[: extra.index("--")] if "--" in extra else extra

    def resolution_args(self) -> list[str]:
        """The flags that also decide how cargo reads and resolves the workspace: `-Z` and `--config`,
        ours and those after `--`, for the `cargo fetch` and `cargo metadata` run beside the build."""
        args = [a for flag in self.unstable for a in ("-Z", flag)]
        extra = self._extra_flags()
        i = 0
        while i < len(extra):
            if extra[i] in ("--config", "-Z") and i + 1 < len(extra):
                args += extra[i : i + 2]
                i += 2
                continue
            if extra[i].startswith("--config=") or (extra[i].startswith("-Z") and len(extra[i]) > 2):
                args.append(extra[i])
            i += 1
        return args

    def unstable_args(self) -> list[str]:
        """The `-Z` flags cargo gets: ours and those after `--` (as `-Z FLAG` or `-ZFLAG`)."""
        args = self.resolution_args()
        picked: list[str] = []
        for i, arg in enumerate(args):
            if arg.startswith("-Z") or (i > 0 and args[i - 1] == "-Z"):
                picked.append(arg)
        return picked

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

    def cook_targets(self) -> CargoOptions:
        """What cook builds for this target selection. The skeleton's stubs have no examples, tests or
        benches of their own, so `--examples` would build nothing there, and `--example N`, `--test N`
        or `--bench N` (after `--`) would fail on a name the stub lacks: cook builds `--tests` instead,
        which compiles the same dependencies, dev-dependencies among them, with the same profile and
        features."""
        extra = list(self.extra)
        cut = extra.index("--") if "--" in extra else len(extra)
        kept: list[str] = []
        named = False
        i = 0
        while i < cut:
            name = extra[i].partition("=")[0]
            if name in _NAMED_TARGETS:
                named = True
                i += 1 if "=" in extra[i] or i + 1 >= cut else 2
                continue
            kept.append(extra[i])
            i += 1
        if not (self.examples or named):
            return self
        from dataclasses import replace

        return replace(self, examples=False, tests=True, extra=(*kept, *extra[cut:]))

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


_NAMED_TARGETS = frozenset({"--example", "--test", "--bench"})  # cargo build's, each with a NAME


def spec_name(spec: str) -> str:
    """The name (or name glob) that a package spec (-p, --stub, --keep) or a --bin names, in the forms cargo
    takes: `name`, `name@1.2`, `name:1.2`, or a package id URL `…/dir#name@1.2`, whose name is the path's
    last part when the fragment is only a version (`…/name#1.2`, as `cargo pkgid` prints it) or absent."""
    if "://" in spec:
        url, _, fragment = spec.partition("#")
        if fragment and not fragment[0].isdigit():
            spec = fragment
        else:
            spec = url.partition("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return spec.split("@", 1)[0].split(":", 1)[0]


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


# Flags cargo chefpy has itself, which decide the profile, target triple, target directory, manifest,
# packages, targets or features. After `--` they would reach cargo unseen: cook would stamp and clean
# for one build while cargo ran another, and build's drift check would compare the wrong things.
_OWN_FLAGS = {
    "--release": "--release",
    "-r": "--release",
    "--profile": "--profile",
    "--target": "--target",
    "--target-dir": "--target-dir",
    "--manifest-path": "--manifest-path",
    "--package": "-p",
    "-p": "-p",
    "--workspace": "--workspace",
    "--all": "--workspace",
    "--features": "--features",
    "-F": "--features",
    "--all-features": "--all-features",
    "--no-default-features": "--no-default-features",
    "--bin": "--bin",
    "--bins": "--bins",
    "--tests": "--tests",
    "--benches": "--benches",
    "--examples": "--examples",
    "--all-targets": "--all-targets",
}
_CONFIG_HINTS = {
    "build.target": "pass --target before `--`, or set build.target in the workspace's .cargo/config.toml "
    "(the recipe carries it to cook)",
    "build.target-dir": "pass --target-dir before `--`, or set build.target-dir in the workspace's "
    ".cargo/config.toml (the recipe carries it to cook)",
    "profile": "set it in the workspace's Cargo.toml [profile] or .cargo/config.toml (the recipe carries "
    "both to cook)",
}
# cook has no --manifest-path, before `--` or after: the recipe names the workspace, cooked where cook runs.
COOK_MANIFEST_PATH = (
    "cook takes no manifest path: it writes the recipe's skeleton in its working directory and cooks that",
    "drop --manifest-path, and run cook in the directory the skeleton goes (`WORKDIR` in a Dockerfile)",
)
_SHORT_WITH_VALUE = frozenset("jZpF")  # cargo build's short options that take a value


def check_extra(extra: Sequence[str], *, cook: bool) -> None:
    """Refuse the cargo arguments after `--` that change what is built and where (see _OWN_FLAGS and
    `--config` settings of build.target, build.target-dir or [profile]), and for cook
    `--message-format`, which would hide the JSON messages cook reads. Everything after a second `--`
    is for rustc or clippy, not cargo, and is not looked at."""
    args = list(extra)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            return
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name == "--manifest-path" and cook:
                raise UsageError(
                    f"--manifest-path after `--`: {COOK_MANIFEST_PATH[0]}", hint=COOK_MANIFEST_PATH[1]
                )
            if name in _OWN_FLAGS:
                raise _refused(name, _OWN_FLAGS[name])
            if name == "--message-format" and cook:
                raise UsageError(
                    "--message-format after `--` would hide the JSON messages cook reads to find the "
                    "stubs' outputs",
                    hint="remove it from cook's arguments (build accepts it)",
                )
            if name == "--config":
                if not eq:
                    value = args[i] if i < len(args) else ""
                    i += 1
                setting = _config_setting(value)
                if setting is not None:
                    raise UsageError(
                        f"--config {value} after `--` sets {setting}, which decides where or how cargo "
                        "builds, unseen by cargo chefpy",
                        hint=_CONFIG_HINTS[setting],
                    )
        elif arg.startswith("-") and len(arg) > 1:
            for j, letter in enumerate(arg[1:], start=1):
                flag = f"-{letter}"
                if flag in _OWN_FLAGS:
                    raise _refused(flag, _OWN_FLAGS[flag])
                if letter in _SHORT_WITH_VALUE:
                    if j == len(arg) - 1:
                        i += 1  # the value is the next argument
                    break


def _refused(flag: str, own: str) -> UsageError:
    return UsageError(
        f"{flag} after `--` would reach cargo unseen by cargo chefpy, which cooks, cleans and stamps "
        "by its own flags (profile, target, target dir, packages, features)",
        hint=f"pass {own} before `--`, where cargo chefpy reads it",
    )


def _config_setting(value: str) -> str | None:
    """The setting among build.target, build.target-dir and [profile] that a `--config` value sets:
    a TOML `KEY=VALUE`, or else the path of a TOML file (read when it can be; cargo reports the rest)."""
    import tomllib

    from cargo_chefpy.fsutil import NotRegularFile, read_regular

    try:
        document = tomllib.loads(value)
    except tomllib.TOMLDecodeError:
        try:
            document = tomllib.loads(read_regular(value).decode())
        except NotRegularFile as exc:  # reading it would wait on a pipe (or take it from cargo)
            raise UsageError(
                f"--config {value} after `--` is {exc.kind}, which cargo chefpy cannot check without "
                "reading it away from cargo",
                hint="pass a regular TOML file (or KEY=VALUE) to --config",
            ) from None
        except (OSError, ValueError):
            return None
    build = document.get("build")
    for key in ("target", "target-dir"):
        if isinstance(build, dict) and key in build:
            return f"build.{key}"
    if "profile" in document:
        return "profile"
    return None


# ----------------------------------------------------------------------------------------------------
# prepare
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    packages: tuple[str, ...] = ()
    bins: tuple[str, ...] = ()
    stub: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    stub_all: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PrepareOptions:
    selection: Selection = field(default_factory=Selection)
    recipe_path: str = "recipe.json"  # "-": stdout
    # The third-party layer's recipe; None: `<stem>.deps.json` beside a --recipe-path file (none beside
    # stdout, a device or a pipe: `deps_recipe_path`).
    deps_recipe_path: str | None = None
    out_dir: Path | None = None  # the skeleton tree instead of a recipe file
    explain: bool = False  # the plan and why, on stdout, before the output
    manifest_path: Path | None = None
    include: tuple[str, ...] = ()  # --include: extra paths to carry, relative to the workspace root
    sources_dir: Path | None = None  # the final build's sources tree (sources.py), besides the recipes


def deps_recipe_path(options: PrepareOptions, cwd: Path) -> Path | None:
    """Where the third-party layer's recipe goes: --deps-recipe-path, else `<stem>.deps.json` beside
    the recipe file; None (not written) when the recipe goes to stdout, a device or a pipe (there is no
    file beside /dev/null or /dev/stdout to write: it would be a new file in /dev), or is a skeleton tree."""
    if options.deps_recipe_path is not None:
        return None if options.deps_recipe_path == "-" else Path(options.deps_recipe_path)
    if options.recipe_path == "-" or options.out_dir is not None:
        return None
    path = Path(options.recipe_path)
    if fsutil.is_stream(full_path(cwd, path)):
        return None
    stem = path.name[: -len(".json")] if path.name.endswith(".json") else path.name
    return path.with_name(f"{stem}.deps.json")


def check_prepare_output(options: PrepareOptions, cwd: Path) -> None:
    """Refuse, before any work, a recipe path that cannot be written (a directory, a socket, too long),
    and a --sources-dir that is not a new or an empty directory."""
    if options.sources_dir is not None:
        tree = os.path.abspath(full_path(cwd, options.sources_dir))
        outputs = [
            ("--out-dir", options.out_dir),
            ("--recipe-path", None if options.recipe_path == "-" else Path(options.recipe_path)),
            ("--deps-recipe-path", deps_recipe_path(options, cwd)),
        ]
        for flag, path in outputs:
            if path is not None and inside(os.path.abspath(full_path(cwd, path)), tree):
                raise UsageError(
                    f"{flag} {path} is inside --sources-dir {options.sources_dir}, which must hold only "
                    "what the final build reads",
                    hint=f"write {flag} outside that directory",
                )
        fsutil.check_empty_dir(Path(tree))
    if options.recipe_path != "-" and options.out_dir is None:
        fsutil.check_output(full_path(cwd, Path(options.recipe_path)), what="recipe path")
    deps = deps_recipe_path(options, cwd)
    if deps is not None:
        same = options.out_dir is None and options.recipe_path != "-"
        if same and os.path.abspath(full_path(cwd, deps)) == os.path.abspath(
            full_path(cwd, Path(options.recipe_path))
        ):
            raise UsageError(
                f"--deps-recipe-path and --recipe-path both name {deps}",
                hint="give the third-party layer's recipe its own path (default: recipe.deps.json)",
            )
        fsutil.check_output(full_path(cwd, deps), what="deps recipe path")


def full_path(cwd: Path, path: Path) -> Path:
    """`path` as given on the command line run in `cwd`."""
    return path if path.is_absolute() else cwd / path
