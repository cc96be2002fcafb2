"""`cargo chefpy cook`: validate, check inputs, write the skeleton, build offline, clean stubs, stamp."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cargo_chefpy import artifacts, cargo, early, lockfile, recipe, skeleton, stamp, watch
from cargo_chefpy.errors import BuildFailed, InputError, ProjectError, RecipeError
from cargo_chefpy.fsutil import check_name_length
from cargo_chefpy.log import Log
from cargo_chefpy.metadata import parse_metadata
from cargo_chefpy.options import CargoOptions, cargo_args
from cargo_chefpy.recipe import Recipe, Role


@dataclass(frozen=True, slots=True, kw_only=True)
class CookOptions:
    recipe_path: Path = Path("recipe.json")
    force: bool = False
    no_build: bool = False
    cargo: CargoOptions = field(default_factory=CargoOptions)


def load_recipe(path: Path, cwd: Path) -> tuple[Recipe, bytes]:
    full = path if path.is_absolute() else cwd / path
    try:
        data = full.read_bytes()
    except FileNotFoundError:
        raise RecipeError(
            f"the recipe {path} does not exist",
            hint="run `cargo chefpy prepare` first, or pass --recipe-path",
        ) from None
    except OSError as exc:
        too_long = exc.errno == errno.ENAMETOOLONG
        raise RecipeError(
            f"cannot read the recipe {path}: {exc.strerror}",
            hint="pass a shorter --recipe-path" if too_long else "check its permissions",
        ) from None
    return recipe.loads(data, source=str(path)), data


def check_vendored(rec: Recipe, root: Path) -> None:
    for directory in rec.vendored:
        path = root / directory
        if not path.is_dir():
            raise InputError(
                f"the vendored directory {directory}/ that this recipe needs is missing (in {root})",
                hint=f"add `COPY {directory} {directory}` before the cook step of your Dockerfile, and keep "
                f"{directory}/ in the build context (run `cargo vendor`; do not list it in .dockerignore)",
            )
    missing = []
    for crate in rec.vendored_crates:
        name, _, version = crate.rpartition("-")
        found = any(
            (root / d / crate / ".cargo-checksum.json").is_file()
            or (root / d / name / ".cargo-checksum.json").is_file()
            for d in rec.vendored
        )
        if not found:
            missing.append(f"{name} {version}")
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            f"the vendored sources are incomplete: {shown} not found in {', '.join(rec.vendored)}",
            hint="run `cargo vendor` again and COPY the whole vendored directory into the cook stage",
        )


def target_directory(cargo_bin: str, workspace: Path, options: CargoOptions) -> Path:
    if options.target_dir is not None:
        return Path(os.path.realpath(workspace / options.target_dir))  # no RuntimeError on a loop
    text = cargo.capture(cargo_bin, list(early.METADATA), cwd=workspace)
    return Path(parse_metadata(text).target_directory)


def checksum_failure(cargo_stderr: list[str], root: Path) -> InputError | None:
    """cargo's refusal of an edited vendored file, as our error with cargo's own message under it."""
    start = next((i for i, line in enumerate(cargo_stderr) if "the listed checksum of" in line), None)
    if start is None:
        return None
    quoted = cargo_stderr[start : start + 8]
    end = next((i for i, line in enumerate(quoted) if "not intended to be edited" in line), None)
    quoted = quoted if end is None else quoted[: end + 1]
    path = quoted[0].split("`")[1] if quoted[0].count("`") >= 2 else "a vendored file"
    with contextlib.suppress(ValueError):
        path = Path(path).relative_to(root).as_posix()
    error = InputError(
        f"the vendored file {path} does not match its checksum in .cargo-checksum.json",
        hint="restore the vendored directory exactly as `cargo vendor` wrote it; "
        "to change a dependency, use [patch] with a copy of it",
    )
    error.with_output("\n".join(quoted))
    return error


def profile_dirs(target_dir: Path, options: CargoOptions) -> list[Path]:
    """Every directory this profile's outputs can land in: the host's and each target triple's."""
    name = options.profile_dir
    dirs = [target_dir / name]
    if target_dir.is_dir():
        dirs += sorted(d / name for d in target_dir.iterdir() if (d / name / ".fingerprint").is_dir())
    return dirs


def recipe_lock(rec: Recipe) -> lockfile.Lock:
    """The recipe's own Cargo.lock, parsed from its bytes; a recipe without the workspace's Cargo.toml
    and Cargo.lock is refused (before anything is written)."""
    prefix = "" if rec.workspace == "." else f"{rec.workspace}/"
    files = {f.path: f for f in rec.files}
    for name in ("Cargo.toml", "Cargo.lock"):
        if prefix + name not in files:
            raise RecipeError(
                f"the recipe does not carry the workspace's {name} ({prefix}{name})",
                hint="prepare the recipe again with `cargo chefpy prepare`; do not edit it by hand",
            )
    try:
        return lockfile.parse_lock(files[prefix + "Cargo.lock"].data.decode())
    except (ProjectError, UnicodeDecodeError) as exc:
        detail = exc.message if isinstance(exc, ProjectError) else "it is not UTF-8"
        raise RecipeError(
            f"the recipe's {prefix}Cargo.lock cannot be read: {detail}",
            hint="prepare the recipe again from a workspace whose Cargo.lock cargo accepts",
        ) from None


def cook(options: CookOptions, *, cwd: Path, log: Log) -> int:
    rec, data = load_recipe(options.recipe_path, cwd)
    root = cwd
    lock = recipe_lock(rec)
    plan = skeleton.plan_writes(rec, root)
    check_vendored(rec, root)
    if options.cargo.target_dir is not None:
        check_name_length(root / rec.workspace / options.cargo.target_dir, what="target directory")
    if not options.force:
        skeleton.refuse_conflicts(plan)
    cargo_bin = None if options.no_build else cargo.find_cargo()  # before anything is written
    written = skeleton.write(plan, root, force=options.force)
    for directory in rec.vendored:
        skeleton.settle_tree(root / directory)
    log.status("Skeleton", f"{written} file(s) written, {len(plan.unchanged)} already in place ({root})")
    if cargo_bin is None:
        return 0

    workspace = Path(os.path.realpath(root / rec.workspace))
    build = options.cargo.with_default_packages(rec.packages, rec.bins)
    needs_fetch = not rec.vendored and any(p.source is not None for p in lock.packages)
    if needs_fetch and not build.offline:
        log.status("Fetching", "registry dependencies (cargo fetch --locked)")
        code = cargo.run_streamed(cargo_bin, ["fetch", "--locked"], cwd=workspace)
        if code != 0:
            raise BuildFailed(
                "`cargo fetch` failed", code=code, hint="check network access, or vendor the sources"
            )
    stub_dirs = frozenset(os.path.normpath(str(root / c.path)) for c in rec.crates if c.klass == "stub")
    found = artifacts.StubArtifacts(stub_dirs=stub_dirs)
    scripts = watch.BuildScripts()

    def observe(message: dict[str, Any]) -> None:
        found.observe(message)
        scripts.observe(message)

    args = cargo_args(build, offline=True, message_format="json-render-diagnostics")
    shown = [a for a in args if a not in ("--message-format", "json-render-diagnostics")]
    log.status("Cooking", f"cargo {' '.join(shown)}")
    cargo_stderr: list[str] = []
    code = cargo.run_streamed(cargo_bin, args, cwd=workspace, on_message=observe, stderr_tail=cargo_stderr)
    if code != 0:
        checksum = checksum_failure(cargo_stderr, root)
        if checksum is not None:
            raise checksum
        raise BuildFailed(
            f"the cook build failed (cargo exited with {code})",
            code=code,
            hint="cargo's errors are above; a dependency that fails here also fails without cargo-chefpy",
        )
    target_dir = target_directory(cargo_bin, workspace, build)
    # Read what the build scripts watch before the stubs' outputs (their scripts' among them) go.
    real_root = Path(os.path.realpath(root))
    watched = list(scripts.watched(str(real_root), skip_packages=stub_dirs, skip_dirs=[str(target_dir)]))
    removed = artifacts.remove(found, profile_dirs(target_dir, build))
    log.status("Cleaned", f"{removed} output(s) of {len(stub_dirs)} stubbed crate(s)")
    path = stamp.write(target_dir, make_stamp(rec, data, build, real_root, watched))
    log.debug(f"stamp written to {path}")
    return 0


def make_stamp(
    rec: Recipe, data: bytes, build: CargoOptions, root: Path, watched: Iterable[str]
) -> stamp.Stamp:
    """What build settles: every kept and external file (cargo checks path crates by mtime), and what
    the cooked build scripts watch (the only vendored files cargo checks by mtime; directories too)."""
    files = {f.path: f.digest for f in rec.files if f.role in (Role.KEEP, Role.EXTERNAL)}
    watched_files, dirs = stamp.digest_watched(root, watched)
    prefixes = tuple(f"{d}/" for d in rec.vendored)
    vendored = {p: d for p, d in watched_files.items() if p.startswith(prefixes)}
    files.update((p, d) for p, d in watched_files.items() if p not in vendored and p not in files)
    options: dict[str, Any] = build.drift_fields()
    return stamp.Stamp(
        recipe=recipe.digest(data),
        workspace=rec.workspace,
        options=options,
        packages=tuple(sorted(build.packages or build.bins)),
        files=files,
        vendored=vendored,
        vendored_dirs=rec.vendored,
        kept_crates=sum(1 for c in rec.crates if c.klass == "keep"),
        external_crates=sum(1 for c in rec.crates if c.klass == "external"),
        dirs=dirs,
    )
