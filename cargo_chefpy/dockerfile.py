"""`cargo chefpy dockerfile`: a multi-stage Dockerfile fitted to this workspace.

Stages: `chef` (toolchain + the cargo-chefpy zipapp), `planner` (prepare: both recipes), `deps` (layer 1:
the third-party recipe + vendored sources, then cook), `cook` (layer 2, FROM deps: the local recipe, then
cook), `build` (the whole context over the cooked WORKDIR) and `runtime` (the binary only). Cargo's
target directory is TARGET_DIR, outside the copied tree: a stray `target/` in the context cannot clobber
the cooked one.
The layout (where the workspace sits in the build context, which vendored directories cook needs) is the
one prepare computes, so the Dockerfile and the planner stage agree by construction.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cargo_chefpy import dockerignore
from cargo_chefpy.errors import ProjectError, SelectionError, UsageError
from cargo_chefpy.fsutil import check_output, write_output
from cargo_chefpy.log import Log
from cargo_chefpy.metadata import Metadata, Package
from cargo_chefpy.options import Selection
from cargo_chefpy.paths import inside
from cargo_chefpy.plan import close_matches
from cargo_chefpy.prepare import prepare
from cargo_chefpy.project import read_project
from cargo_chefpy.workspace import cargo_config, normalise, parse_toml, relative

DEFAULT_BASE_IMAGE = "rust:1-bookworm"
DEFAULT_RUNTIME_IMAGE = "debian:bookworm-slim"
WORKDIR = "/app"  # one fixed path for every stage: cargo records absolute paths in the target dir
TARGET_DIR = "/app-target"  # CARGO_TARGET_DIR of every stage: outside what `COPY . .` writes
PLAN_DIR = "/plan"  # the planner's outputs, outside the copied tree: no prepare run ever reads another's
TOOL = "cargo-chefpy"
BAKE_FILE = "docker-bake.hcl"  # beside a Dockerfile written to a file, for several services


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerfileOptions:
    package: str | None = None
    bin: str | None = None
    # Several services in one Dockerfile: `-p` given more than once, or --all-bins (every member with a
    # binary). One shared third-party stage, one image target per service.
    packages: tuple[str, ...] = ()
    all_bins: bool = False
    base_image: str = DEFAULT_BASE_IMAGE
    runtime_image: str = DEFAULT_RUNTIME_IMAGE
    output: str = "-"
    manifest_path: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """What the Dockerfile needs to know about a workspace. Paths are POSIX and relative."""

    selection: tuple[str, ...]  # the flags naming the target, e.g. ("-p", "serviceZ")
    binary: str  # the binary the runtime stage carries
    workspace: str  # the workspace root, relative to the build context ('.' normally)
    context: str  # the build context, relative to the workspace root ('.' normally)
    vendored: tuple[str, ...]  # vendored directories cook needs, relative to the build context
    target_dir: str  # cargo's target directory, relative to the workspace root
    context_root: str = ""  # the build context's absolute path (for its .dockerignore; not rendered)
    build_target: str = ""  # the directory build.target gives the outputs in the target dir ('' if unset)


def _with_bins(members: Iterable[Package]) -> list[Package]:
    return sorted((p for p in members if p.bins), key=lambda p: p.name)


def _listing(packages: list[Package]) -> str:
    """`serviceX, tools (a, b)`: the packages, with their binaries where those are not the package name."""
    shown = []
    for p in packages:
        names = sorted(t.name for t in p.bins)
        shown.append(p.name if names == [p.name] else f"{p.name} ({', '.join(names)})")
    return ", ".join(shown) or "none"


def resolve_binary(
    metadata: Metadata, package: str | None, bin_name: str | None
) -> tuple[tuple[str, ...], str]:
    """The selection flags and the binary name for `-p`/`--bin`; SelectionError when they name no binary."""
    members = metadata.members
    with_bins = _with_bins(members)
    if bin_name is not None:
        owners = [p for p in members if any(t.name == bin_name for t in p.bins)]
        if not owners:
            hint = close_matches(bin_name, (t.name for p in members for t in p.bins))
            raise SelectionError(
                f"--bin `{bin_name}` matches no binary of this workspace's members",
                hint=hint or f"pass --bin with one of the binaries: {_listing(with_bins)}",
            )
        if package is not None and all(p.name != package for p in owners):
            raise SelectionError(
                f"the binary `{bin_name}` does not belong to the package `{package}`",
                hint=f"it belongs to {', '.join(p.name for p in owners)}; drop -p or pass that package",
            )
        flags = ("-p", package, "--bin", bin_name) if package is not None else ("--bin", bin_name)
        return flags, bin_name
    if package is None:
        if len(with_bins) != 1:
            raise SelectionError(
                f"this workspace has {len(with_bins) or 'no'} package(s) with a binary; "
                "a Dockerfile's runtime stage needs exactly one",
                hint=f"pass -p PACKAGE or --bin NAME; packages with binaries: {_listing(with_bins)}",
            )
        found = with_bins[0]
    else:
        match = [p for p in members if p.name == package]
        if not match:
            hint = close_matches(package, (p.name for p in members))
            raise SelectionError(
                f"package `{package}` matches no member of this workspace",
                hint=hint or f"pass -p with one of: {', '.join(sorted(p.name for p in members))}",
            )
        found = match[0]
    bins = sorted(t.name for t in found.bins)
    if not bins:
        hint = close_matches(package or "", (p.name for p in with_bins))
        raise SelectionError(
            f"package `{found.name}` has no binary target, so a runtime image has nothing to run",
            hint=hint or f"pass -p with a package that has a binary: {_listing(with_bins)}",
        )
    if len(bins) > 1:
        if found.name not in bins:
            raise SelectionError(
                f"package `{found.name}` has several binaries ({', '.join(bins)})",
                hint="pass --bin NAME to choose the one the runtime stage carries",
            )
        bins = [found.name]
    return ("-p", found.name), bins[0]


def build_target_directory(root: str) -> str:
    """The directory, below the target directory, that `build.target` in the workspace's own cargo config
    puts every output in: the triple, or a target spec file's stem ('' when unset). cargo reads
    config (`workspace.cargo_config`); of a list of targets, the first (every one is built)."""
    path = cargo_config(root)
    if path is None:
        return ""
    with open(path, encoding="utf-8", errors="replace") as handle:
        build = parse_toml(handle.read(), path).get("build")
    target = build.get("target") if isinstance(build, dict) else None
    if isinstance(target, list):
        target = target[0] if target else None
    if target == "host-tuple":  # the machine building the image decides: not known here
        raise ProjectError(
            f'{relative(path, root)} sets build.target = "host-tuple": the Dockerfile cannot know the triple'
            " the build image compiles for, under which cargo puts the binary",
            hint="set build.target to that triple (`rustc -vV` in the build image prints it as host:)",
        )
    if isinstance(target, str) and target:
        return Path(target).stem if target.endswith(".json") else target
    return ""


def inspect(options: DockerfileOptions, *, cwd: Path, log: Log) -> Layout:
    """Read the workspace (cargo metadata, then prepare's plan) into a Layout."""
    metadata = read_project(cwd, options.manifest_path)  # one cargo metadata, for both steps
    flags, binary = resolve_binary(metadata, options.package, options.bin)
    selection = Selection(
        packages=(flags[1],) if flags[0] == "-p" else (),
        bins=(options.bin,) if options.bin is not None else (),
    )
    log.debug(f"planning {' '.join(flags)} to find the layout of the build context")
    prepared = prepare(selection, metadata=metadata)
    root = normalise(metadata.workspace_root)
    target = normalise(metadata.target_directory)
    target_inside = inside(target, root)  # the Dockerfile sets CARGO_TARGET_DIR whatever the host's
    return Layout(
        selection=flags,
        binary=binary,
        workspace=prepared.recipe.workspace,
        context=relative(prepared.recipe_root, root),
        vendored=prepared.recipe.vendored,
        target_dir=relative(target, root) if target_inside else "target",
        context_root=prepared.recipe_root,
        build_target=build_target_directory(root),
    )


def _join(first: str, *parts: str) -> str:
    """Join POSIX path parts, dropping '.' parts; an absolute first part stays absolute."""
    joined = "/".join(p.strip("/") for p in (first, *parts) if p not in ("", "."))
    return ("/" if first.startswith("/") else "") + joined if joined else "."


def _copy(src: str, dest: str, *, stage: str | None = None) -> str:
    head = "COPY" if stage is None else f"COPY --from={stage}"
    if re.search(r"[\s\"'\\]", src + dest):
        return f"{head} {json.dumps([src, dest])}"
    return f"{head} {src} {dest}"


def _tolerant(path: str) -> str:
    """`vendored` -> `vendore[d]`: a wildcard that matches the directory, or nothing when it is missing."""
    if path and re.fullmatch(r"[A-Za-z0-9_.-]", path[-1]) and not re.search(r"[\[\]*?]", path):
        return f"{path[:-1]}[{path[-1]}]"
    return path


def _command(options: DockerfileOptions, layout: Layout) -> str:
    words = ["cargo chefpy dockerfile", *layout.selection]
    if options.base_image != DEFAULT_BASE_IMAGE:
        words += ["--base-image", options.base_image]
    if options.runtime_image != DEFAULT_RUNTIME_IMAGE:
        words += ["--runtime-image", options.runtime_image]
    return " ".join(words)


# What every Dockerfile's header says about the build context, after how to build it.
_CONTEXT_NOTES = (
    f"# The context must hold the {TOOL} zipapp, executable, beside the workspace:",
    f"#   (cd path/to/cargo-chefpy && make zipapp) && cp path/to/cargo-chefpy/dist/{TOOL} .",
    "# It runs on the builder image's python3 (3.11 or newer): the official rust:<version> (bookworm)",
    "# images have it, the rust:<version>-slim images do not.",
    "# Keep target/ out of the context with a .dockerignore that lists `target/` (a smaller context;",
    f"# cargo builds in {TARGET_DIR}, so a stray target/ cannot clobber the cooked outputs anyway).",
    f"# Every stage uses WORKDIR {WORKDIR}: cook and build must run at the same absolute path.",
)


def _chef_stage(base_image: str, runtime_image: str) -> list[str]:
    """The image arguments and the `chef` stage every Dockerfile starts from."""
    return [
        f"ARG BASE_IMAGE={base_image}",
        f"ARG RUNTIME_IMAGE={runtime_image}",
        "",
        "# chef: the Rust toolchain and cargo-chefpy.",
        "FROM ${BASE_IMAGE} AS chef",
        _copy(TOOL, f"/usr/local/bin/{TOOL}"),
        f"WORKDIR {WORKDIR}",
        f"ENV CARGO_TARGET_DIR={TARGET_DIR}",
    ]


def _deps_stage(vendored: tuple[str, ...], *, plan_dir: str = WORKDIR) -> list[str]:
    """The head of the `deps` stage (layer 1): the third-party recipe (in the planner's `plan_dir`) and
    the vendored directories."""
    lines = []
    if vendored:
        lines.append("# The last letter in brackets is a wildcard: without the directory in the")
        lines.append("# context, the build still reaches cook, which says what is missing.")
    lines += ["FROM chef AS deps", _copy(f"{plan_dir}/recipe.deps.json", "recipe.deps.json", stage="planner")]
    return lines + [_copy(_tolerant(v), f"{v}/") for v in vendored]


def render(layout: Layout, *, base_image: str, runtime_image: str, command: str) -> str:
    """The Dockerfile text. Pure and deterministic."""
    sel = " ".join(layout.selection)
    ws_dir = _join(WORKDIR, layout.workspace)
    tag = re.sub(r"[^a-z0-9_.-]", "-", layout.binary.lower())
    where = "the workspace root" if layout.context == "." else f"`{layout.context}` from the workspace root"
    lines = [
        f"# Dockerfile for {layout.binary}, written by `{command}`.",
        "#",
        f"# Build it with the build context at {where}:",
        f"#   docker build -t {tag} {'.' if layout.context == '.' else f'-f Dockerfile {layout.context}'}",
        *_CONTEXT_NOTES,
        "",
        *_chef_stage(base_image, runtime_image),
        "",
        "# planner: the whole context in; out: recipe.deps.json (layer 1: what decides how the",
        f"# third-party crates compile), recipe.json (layer 2: the local crates {layout.binary} needs) and",
        f"# {PLAN_DIR}/sources (what its final build reads: the context without the local crates it",
        "# does not use).",
        "FROM chef AS planner",
        "COPY . .",
    ]
    manifest = "" if layout.workspace == "." else f" --manifest-path {_join(layout.workspace, 'Cargo.toml')}"
    lines.append(
        f"RUN cargo chefpy prepare{manifest} {sel} --recipe-path recipe.json --sources-dir {PLAN_DIR}/sources"
    )
    lines += [
        "",
        "# deps (layer 1): compiles every third-party crate. Reused until a third-party dependency, its",
        "# features or lock entry, the cargo config or the toolchain changes: editing a local crate,",
        "# its version or its metadata never reruns it.",
    ]
    lines += _deps_stage(layout.vendored)
    lines += [
        f"RUN cargo chefpy cook --release {sel} --recipe-path recipe.deps.json",
        "",
        f"# cook (layer 2): the local crates {layout.binary} needs, on top of layer 1; no third-party",
        "# crate compiles here. Reused until one of those crates changes.",
        "FROM deps AS cook",
        _copy(f"{WORKDIR}/recipe.json", "recipe.json", stage="planner"),
        f"RUN cargo chefpy cook --release {sel}",
        "",
        f"# build: {layout.binary}'s sources over the cooked WORKDIR; only its own crate compiles. The",
        "# planner wrote them (--sources-dir): the context without the local crates it does not use, so",
        "# an edit to one of those leaves this stage CACHED.",
        "FROM cook AS build",
        _copy(f"{PLAN_DIR}/sources/", "./", stage="planner"),
    ]
    if layout.workspace != ".":
        lines.append(f"WORKDIR {ws_dir}")
    lines += [
        f"RUN cargo chefpy build --release {sel}",
        "",
        "# runtime: only the binary.",
        "FROM ${RUNTIME_IMAGE} AS runtime",
        _copy(
            _join(TARGET_DIR, layout.build_target, "release", layout.binary),
            f"/usr/local/bin/{layout.binary}",
            stage="build",
        ),
        f"ENTRYPOINT {json.dumps([f'/usr/local/bin/{layout.binary}'])}",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    package: str
    binary: str
    stage: str  # the image target: `docker build --target STAGE`


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicesLayout:
    """A Layout for several services: the layout prepare computes for their union."""

    services: tuple[Service, ...]
    workspace: str
    context: str
    vendored: tuple[str, ...]
    target_dir: str
    context_root: str = ""
    build_target: str = ""  # as Layout's


def stage_name(package: str) -> str:
    """An image target (a Dockerfile stage name) for a package: lowercase, `[a-z0-9_.-]`."""
    name = re.sub(r"[^a-z0-9_.-]", "-", package.lower())
    return name if re.match(r"[a-z]", name) else f"service-{name}"


def resolve_services(metadata: Metadata, packages: tuple[str, ...], all_bins: bool) -> tuple[Service, ...]:
    """The services of a multi-service Dockerfile, in the order given (--all-bins: by name)."""
    names = [p.name for p in _with_bins(metadata.members)] if all_bins else list(dict.fromkeys(packages))
    if not names:
        raise SelectionError(
            "this workspace has no package with a binary, so there is no image to build",
            hint="add a binary target to a member, or pass -p with a package that has one",
        )
    services: list[Service] = []
    seen: dict[str, str] = {}
    for name in names:
        _, binary = resolve_binary(metadata, name, None)
        stage = stage_name(name)
        if stage in seen or stage in ("chef", "planner", "deps") or stage.startswith(("cook-", "build-")):
            clash = seen.get(stage, "a stage of the Dockerfile")
            raise SelectionError(
                f"packages `{name}` and `{clash}` would share the image target `{stage}`"
                if stage in seen
                else f"package `{name}` would give the image target `{stage}`, the name of {clash}",
                hint="write a Dockerfile for that package alone: cargo chefpy dockerfile -p "
                f"{name} --output Dockerfile.{stage}",
            )
        seen[stage] = name
        services.append(Service(package=name, binary=binary, stage=stage))
    return tuple(services)


def inspect_services(options: DockerfileOptions, *, cwd: Path, log: Log) -> ServicesLayout:
    metadata = read_project(cwd, options.manifest_path)
    services = resolve_services(metadata, options.packages, options.all_bins)
    names = tuple(s.package for s in services)
    log.debug(f"planning {' '.join(f'-p {n}' for n in names)} to find the layout of the build context")
    prepared = prepare(Selection(packages=names, bins=()), metadata=metadata)
    # Each service's own (layer-2) recipe must sit where the shared layer 1 does: with a path dependency
    # outside the workspace used by some services only, its recipe would root elsewhere, and its local
    # cook would land in a second workspace beside the shared one (nothing it compiled reused).
    for service in services:
        own = prepare(Selection(packages=(service.package,), bins=()), metadata=metadata)
        if own.recipe_root != prepared.recipe_root:
            raise SelectionError(
                f"{service.package}'s recipe is rooted at {own.recipe_root}, the shared third-party layer's "
                f"at {prepared.recipe_root} (a path dependency outside the workspace that only some of "
                "the services use), so they cannot share one Dockerfile's layers",
                hint=f"write one Dockerfile per service: `cargo chefpy dockerfile -p {service.package} "
                f"--output Dockerfile.{service.package}`",
            )
    root = normalise(metadata.workspace_root)
    target = normalise(metadata.target_directory)
    return ServicesLayout(
        services=services,
        workspace=prepared.recipe.workspace,
        context=relative(prepared.recipe_root, root),
        vendored=prepared.recipe.vendored,
        target_dir=relative(target, root) if inside(target, root) else "target",
        context_root=prepared.recipe_root,
        build_target=build_target_directory(root),
    )


def _services_command(options: DockerfileOptions, layout: ServicesLayout) -> str:
    words = ["cargo chefpy dockerfile"]
    if options.all_bins:
        words.append("--all-bins")
    else:
        words += [w for s in layout.services for w in ("-p", s.package)]
    if options.base_image != DEFAULT_BASE_IMAGE:
        words += ["--base-image", options.base_image]
    if options.runtime_image != DEFAULT_RUNTIME_IMAGE:
        words += ["--runtime-image", options.runtime_image]
    return " ".join(words)


def render_services(layout: ServicesLayout, *, base_image: str, runtime_image: str, command: str) -> str:
    """The Dockerfile text for several services. Pure and deterministic."""
    names = [s.package for s in layout.services]
    union = " ".join(f"-p {n}" for n in names)
    where = "the workspace root" if layout.context == "." else f"`{layout.context}` from the workspace root"
    context = "." if layout.context == "." else f"-f Dockerfile {layout.context}"
    first = layout.services[0]
    stages = " ".join(s.stage for s in layout.services)
    manifest = "" if layout.workspace == "." else f" --manifest-path {_join(layout.workspace, 'Cargo.toml')}"
    lines = [
        f"# Dockerfile for {', '.join(names)}, written by `{command}`.",
        "#",
        f"# One image target per service, built with the build context at {where}:",
        f"#   docker build --target {first.stage} -t {first.stage} {context}",
        "# Every image at once: `docker buildx bake` (docker-bake.hcl, written beside this file by",
        "# --output), or, without buildx, one `docker build --target` per service:",
        f"#   for s in {stages}; do docker build --target $s -t $s {context}; done",
        *_CONTEXT_NOTES,
        "#",
        "# Feature unification: cargo compiles a third-party crate with the union of the features that the",
        "# packages of ONE invocation ask for, so a layer cooked once for all services could hold units",
        "# that one service's own build (`-p SERVICE`) does not use, and that build would compile the crate",
        "# again. So the shared deps stage cooks the one third-party recipe once per service, with that",
        "# service's -p: the target directory then holds each service's exact units. A crate that every",
        "# service uses alike compiles once; one whose features differ between services compiles once per",
        "# feature set; none compiles in the cook-* and build-* stages.",
        "",
        *_chef_stage(base_image, runtime_image),
        "",
        f"# planner: the whole context in; out, in {PLAN_DIR}: recipe.deps.json (layer 1, shared: what",
        "# decides how the third-party crates of every service compile), and per service its recipe",
        "# (layer 2: the local crates it needs) and its sources (what its final build reads: the context",
        "# without the local crates it does not use).",
        "FROM chef AS planner",
        "COPY . .",
        f"RUN mkdir -p {PLAN_DIR} && cargo chefpy prepare{manifest} {union} "
        f"--recipe-path {PLAN_DIR}/recipe.all.json --deps-recipe-path {PLAN_DIR}/recipe.deps.json",
    ]
    lines += [
        f"RUN cargo chefpy prepare{manifest} -p {s.package} --recipe-path {PLAN_DIR}/recipe.{s.package}.json "
        f"--sources-dir {PLAN_DIR}/{s.package}"
        for s in layout.services
    ]
    lines += [
        "",
        "# deps (layer 1, shared by every service): compiles every third-party crate, one cook per service",
        "# (see feature unification above). Reused until a third-party dependency, its features or lock",
        "# entry, the cargo config or the toolchain changes: editing a local crate never reruns it.",
    ]
    lines += _deps_stage(layout.vendored, plan_dir=PLAN_DIR)
    lines += [f"RUN cargo chefpy cook --release -p {n} --recipe-path recipe.deps.json" for n in names]
    for s in layout.services:
        lines += [
            "",
            f"# {s.package}: its local crates on top of the shared layer 1 (cook-{s.stage}), its",
            f"# sources (build-{s.stage}: only {s.package}'s own crate compiles), the image ({s.stage}).",
            "# An edit to another service changes none of these inputs: every step is CACHED.",
            f"FROM deps AS cook-{s.stage}",
            _copy(f"{PLAN_DIR}/recipe.{s.package}.json", "recipe.json", stage="planner"),
            f"RUN cargo chefpy cook --release -p {s.package}",
            "",
            f"FROM cook-{s.stage} AS build-{s.stage}",
            _copy(f"{PLAN_DIR}/{s.package}/", "./", stage="planner"),
        ]
        if layout.workspace != ".":
            lines.append(f"WORKDIR {_join(WORKDIR, layout.workspace)}")
        lines += [
            f"RUN cargo chefpy build --release -p {s.package}",
            "",
            f"FROM ${{RUNTIME_IMAGE}} AS {s.stage}",
            _copy(
                _join(TARGET_DIR, layout.build_target, "release", s.binary),
                f"/usr/local/bin/{s.binary}",
                stage=f"build-{s.stage}",
            ),
            f"ENTRYPOINT {json.dumps([f'/usr/local/bin/{s.binary}'])}",
        ]
    return "\n".join(lines) + "\n"


def render_bake(layout: ServicesLayout, *, dockerfile: str, context: str, command: str) -> str:
    """docker-bake.hcl: one target per service, and a `default` group of them all. `dockerfile` is
    relative to `context`, `context` to the bake file's directory."""
    lines = [
        f"# docker-bake.hcl, written by `{command}`.",
        "# `docker buildx bake` builds every service image; `docker buildx bake SERVICE` builds one.",
        "",
        'group "default" {',
        f"  targets = {json.dumps([s.stage for s in layout.services])}",
        "}",
    ]
    for s in layout.services:
        lines += [
            "",
            f"target {json.dumps(s.stage)} {{",
            f"  context    = {json.dumps(context)}",
            f"  dockerfile = {json.dumps(dockerfile)}",
            f"  target     = {json.dumps(s.stage)}",
            f"  tags       = {json.dumps([f'{s.stage}:latest'])}",
            "}",
        ]
    return "\n".join(lines) + "\n"


def _check_image(flag: str, image: str) -> None:
    if not image or re.search(r"\s", image):
        raise UsageError(
            f"{flag} {image!r} is not an image reference", hint=f"pass e.g. {flag} rust:1-bookworm"
        )


def dockerfile(options: DockerfileOptions, *, cwd: Path, log: Log) -> int:
    _check_image("--base-image", options.base_image)
    _check_image("--runtime-image", options.runtime_image)
    output = None if options.output == "-" else Path(options.output)
    full = None if output is None else output if output.is_absolute() else cwd / output
    if full is not None:
        check_output(full, what="output path")
    if options.all_bins or len(options.packages) > 1:
        return _services_dockerfile(options, output, full, cwd=cwd, log=log)
    layout = inspect(options, cwd=cwd, log=log)
    text = render(
        layout,
        base_image=options.base_image,
        runtime_image=options.runtime_image,
        command=_command(options, layout),
    )
    to_file = full is not None and _is_file(full)  # not stdout, /dev/stdout or a named pipe
    write_output(full, text.encode(), what="Dockerfile", to_file="--output FILE")
    log.status("Wrote", f"a Dockerfile for {layout.binary} to {output or 'stdout'}")
    context = Path(layout.context_root or cwd)
    keep_out = (_join(layout.workspace, layout.target_dir), ".git")
    dockerignore.ensure(
        context, keep_out, write=to_file, shown=dockerignore.shown_path(context, cwd), log=log
    )
    return 0


def _services_dockerfile(
    options: DockerfileOptions, output: Path | None, full: Path | None, *, cwd: Path, log: Log
) -> int:
    if options.all_bins and options.packages:
        raise UsageError(
            "--all-bins and -p both choose the services", hint="pass either --all-bins or the -p flags"
        )
    if options.bin is not None:
        raise UsageError(
            "--bin picks the binary of one image; with several services each image runs its package's binary",
            hint="drop --bin, or write that service's Dockerfile alone: -p PACKAGE --bin NAME",
        )
    layout = inspect_services(options, cwd=cwd, log=log)
    command = _services_command(options, layout)
    text = render_services(
        layout, base_image=options.base_image, runtime_image=options.runtime_image, command=command
    )
    to_file = full is not None and _is_file(full)
    bake = None if full is None or not to_file else full.parent / BAKE_FILE
    if bake is not None:
        check_output(bake, what="bake file path")
    write_output(full, text.encode(), what="Dockerfile", to_file="--output FILE")
    names = ", ".join(s.package for s in layout.services)
    log.status("Wrote", f"a Dockerfile for {names} to {output or 'stdout'}")
    context = Path(layout.context_root or cwd)
    if bake is not None and full is not None:
        hcl = render_bake(
            layout,
            dockerfile=Path(os.path.relpath(full, context)).as_posix(),
            context=Path(os.path.relpath(context, full.parent)).as_posix(),
            command=command,
        )
        write_output(bake, hcl.encode(), what="bake file")
        log.status("Wrote", f"{os.path.relpath(bake, cwd)}: `docker buildx bake` builds every image")
    keep_out = (_join(layout.workspace, layout.target_dir), ".git")
    dockerignore.ensure(
        context, keep_out, write=to_file, shown=dockerignore.shown_path(context, cwd), log=log
    )
    return 0


def _is_file(path: Path) -> bool:
    """Whether an output path is (or will be) a regular file, rather than a device or a pipe."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # a new file
