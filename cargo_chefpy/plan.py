"""Pure: sort every local crate into stub / keep / prune / external, with the reason for each."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from cargo_chefpy import lockfile
from cargo_chefpy.errors import SelectionError, UsageError
from cargo_chefpy.options import Selection, spec_name
from cargo_chefpy.paths import inside
from cargo_chefpy.recipe import CrateClass
from cargo_chefpy.workspace import LocalCrate, Workspace


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    crate: LocalCrate
    klass: CrateClass
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    decisions: tuple[Decision, ...]  # in the workspace's crate order (by directory)
    targets: tuple[str, ...]  # package names being built (sorted)
    bins: tuple[str, ...]  # --bin names (sorted)

    def of(self, klass: CrateClass) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.klass is klass)

    def directories(self, *classes: CrateClass) -> set[str]:
        return {d.crate.directory for d in self.decisions if d.klass in classes}


def _matches(spec: str, crates: Iterable[LocalCrate]) -> list[LocalCrate]:
    name = spec_name(spec)
    return [c for c in crates if fnmatch.fnmatchcase(c.name, name)]


def close_matches(name: str, names: Iterable[str]) -> str | None:
    """`did you mean a, b?` for the names closest to `name`, or None."""
    import difflib  # only on this error path: 1.3 ms off every prepare's start-up

    close = difflib.get_close_matches(name, sorted(set(names)), n=3, cutoff=0.5)
    return f"did you mean {', '.join(close)}?" if close else None


def _unknown(kind: str, spec: str, names: Iterable[str]) -> SelectionError:
    hint = close_matches(spec, names) or "run `cargo metadata --no-deps` to list the packages"
    return SelectionError(f"{kind} `{spec}` matches no package in this workspace", hint=hint)


def _reach(start: Iterable[str], edges: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(edges.get(node, ()))
    return seen


def make_plan(workspace: Workspace, selection: Selection, lock: lockfile.Lock | None = None) -> Plan:
    """`lock`: the workspace's, to tell the [patch] crates the targets use (all of them without it)."""
    members = workspace.members
    by_dir = {c.directory: c for c in workspace.crates}
    edges = {c.directory: tuple(d for d in c.local_deps if d in by_dir) for c in workspace.crates}

    # The targets: -p specs and the packages that own each --bin.
    targets: dict[str, str] = {}
    for spec in selection.packages:
        found = _matches(spec, members)
        patches = _matches(spec, (c for c in workspace.crates if c.via_patch))
        if not found and patches:
            raise SelectionError(
                f"package `{spec}` matches {patches[0].name}, a [patch] crate, which cargo-chefpy builds"
                " only as the dependency it patches",
                hint="build a package that depends on it, or make it a workspace member to build it alone",
            )
        if not found:
            raise _unknown("package", spec, (c.name for c in members))
        for crate in found:
            targets[crate.directory] = f"target (-p {spec})"
    for name in selection.bins:
        owners = [c for c in members if c.package and any(t.name == name for t in c.package.bins)]
        if not owners:
            all_bins = (t.name for c in members if c.package for t in c.package.bins)
            raise _unknown("--bin", name, all_bins)
        for crate in owners:
            targets.setdefault(crate.directory, f"target (--bin {name})")

    closure = _reach(targets, edges) if targets else {c.directory for c in members}
    if workspace.root_package is not None:
        closure.add(workspace.root_package)
    # The members a [patch] crate the targets use depends on (a fork in the monorepo using a shared
    # library): cook compiles that crate for real, so they are real too. A fork no target uses (its entry
    # is dropped, its files not carried) needs nothing: those members stay as the targets have them. A
    # [patch] of the cargo config stays whether used or not (the config is carried as is).
    patched = {c.directory for c in workspace.crates if c.via_patch}

    def patches_used(start: set[str]) -> set[str]:
        if lock is None:
            return patched
        roots = [(by_dir[d].name, by_dir[d].version) for d in start if by_dir[d].member]
        used = {(p.name, p.version) for p in lockfile.reachable(lock, roots) if p.source is None}
        return {
            d for d in patched if (by_dir[d].name, by_dir[d].version) in used or by_dir[d].patch_in_config
        }

    for_patches: set[str] = set()
    while True:  # a member a fork uses may use another fork
        needed = {d for d in _reach(patches_used(closure | for_patches), edges) if by_dir[d].member}
        if needed <= for_patches:
            break
        for_patches |= needed
    closure |= for_patches
    closure_members = [c for c in members if c.directory in closure]
    stubbable = [c for c in closure_members if c.directory not in for_patches]

    def resolve(specs: tuple[str, ...], flag: str) -> dict[str, str]:
        chosen: dict[str, str] = {}
        for spec in specs:
            found = _matches(spec, workspace.crates)
            if not found:
                raise _unknown(flag, spec, (c.name for c in workspace.crates))
            for crate in found:
                if not crate.member:
                    raise SelectionError(
                        f"{flag} {spec} matches {crate.name}, a crate outside the workspace members",
                        hint="[patch] crates and path dependencies outside the workspace are always real",
                    )
                if crate.directory in closure:
                    chosen[crate.directory] = f"{flag} {spec}"
        return chosen

    stub_flags = resolve(selection.stub, "--stub")
    keep_flags = resolve(selection.keep, "--keep")
    both = sorted(by_dir[d].name for d in set(stub_flags) & set(keep_flags))
    if both:
        raise UsageError(
            f"{', '.join(both)} is selected by both --stub and --keep",
            hint="drop one of the two flags for that crate",
        )
    clash = sorted(by_dir[d].name for d in set(targets) & set(keep_flags))
    if clash:
        raise UsageError(
            f"{', '.join(clash)} is a build target and cannot be kept: targets are always stubbed",
            hint="drop --keep for the crate you are building",
        )

    stubbed: dict[str, str] = {}
    if selection.stub_all:
        stubbed = {c.directory: "--stub-all: every member stubbed, as cargo-chef does" for c in stubbable}
    elif not targets and not keep_flags:
        stubbed = {
            c.directory: "no target given: every member stubbed, as cargo-chef does" for c in stubbable
        }
    else:
        stubbed = {**targets, **stub_flags}
    # Real code cannot compile against a dummy: whatever depends on a stub is a stub too.
    changed = True
    while changed:
        changed = False
        for crate in closure_members:
            if crate.directory in stubbed:
                continue
            dep = next((d for d in edges[crate.directory] if d in stubbed), None)
            if dep is not None:
                stubbed[crate.directory] = f"depends on stubbed {by_dir[dep].name}"
                changed = True
    # --keep X keeps X and its local dependencies, which must not be stubs.
    for directory, flag in keep_flags.items():
        for dep in sorted(_reach([directory], edges)):
            if dep in stubbed and by_dir[dep].member:
                raise SelectionError(
                    f"{by_dir[directory].name} cannot be kept ({flag}): it depends on {by_dir[dep].name}, "
                    f"which is stubbed ({stubbed[dep]})",
                    hint=f"drop {flag}, or keep {by_dir[dep].name} too",
                )

    users: dict[str, list[str]] = {}
    for u in closure | patched:
        for dep in edges.get(u, ()):
            users.setdefault(dep, []).append(by_dir[u].name)
    reached = _reach(closure | patched, edges)
    decisions = []
    for crate in workspace.crates:
        d = crate.directory
        if not crate.member:
            if d in patched:
                decisions.append(
                    Decision(crate=crate, klass=CrateClass.EXTERNAL, reason="[patch] path crate")
                )
            elif d in reached:
                where = "outside the workspace root" if not inside(d, workspace.root) else "not a member"
                decisions.append(
                    Decision(crate=crate, klass=CrateClass.EXTERNAL, reason=f"path dependency {where}")
                )
            continue
        if d in stubbed:
            reason = stubbed[d]
            if d == workspace.root_package and d not in targets and reason.startswith("depends"):
                reason += " (and the root package of a workspace cannot be pruned)"
            decisions.append(Decision(crate=crate, klass=CrateClass.STUB, reason=reason))
        elif d in closure:
            if d in keep_flags:
                reason = f"kept by {keep_flags[d]}"
            else:
                reason = "real sources" + _needed_by(sorted(users.get(d, ())))
            decisions.append(Decision(crate=crate, klass=CrateClass.KEEP, reason=reason))
        else:
            decisions.append(
                Decision(crate=crate, klass=CrateClass.PRUNE, reason="not needed by the targets")
            )
    return Plan(
        decisions=tuple(decisions),
        targets=tuple(sorted({by_dir[d].name for d in targets})),
        bins=tuple(sorted(set(selection.bins))),
    )


def _needed_by(names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:3])
    return f", needed by {shown}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def drop_unused(plan: Plan, used: set[str]) -> Plan:
    """Externals whose directory is not in `used` are not needed by the targets: prune them."""
    decisions = tuple(
        Decision(crate=d.crate, klass=CrateClass.PRUNE, reason=f"{d.reason}, not used by the targets")
        if d.klass is CrateClass.EXTERNAL and d.crate.directory not in used
        else d
        for d in plan.decisions
    )
    return Plan(decisions=decisions, targets=plan.targets, bins=plan.bins)
