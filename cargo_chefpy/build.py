"""`cargo chefpy build`, the final stage: settle unchanged files, check drift, build."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cargo_chefpy import cargo, stamp
from cargo_chefpy.errors import BuildFailed, StampError
from cargo_chefpy.fsutil import FIXED_MTIME, set_mtime, write_error
from cargo_chefpy.log import Log
from cargo_chefpy.options import CargoOptions, cargo_args


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    unchanged: int
    changed: int
    missing: int


def settle(st: stamp.Stamp, recipe_root: Path) -> Settled:
    """Give each file whose content equals what cook compiled the fixed mtime again; leave the rest."""
    unchanged = changed = missing = 0
    for rel, expected in (*st.files.items(), *st.vendored.items()):
        path = recipe_root / rel
        if path.is_symlink() or not path.is_file():
            missing += 1
            continue
        if stamp.file_digest(path) != expected:
            changed += 1
            continue
        try:
            set_mtime(path, FIXED_MTIME)
        except OSError as exc:
            raise write_error(path, exc) from None
        unchanged += 1
    return Settled(unchanged=unchanged, changed=changed, missing=missing)


def drift(cooked: dict[str, object], building: dict[str, object]) -> list[str]:
    notes = []
    for key in sorted(set(cooked) | set(building)):
        if cooked.get(key) != building.get(key):
            notes.append(
                f"{key.replace('_', '-')} differs from cook (cooked {cooked.get(key)!r}, building "
                f"{building.get(key)!r}): cargo recompiles the dependencies it affects"
            )
    return notes


def build(options: CargoOptions, *, cwd: Path, log: Log) -> int:
    cargo_bin = cargo.find_cargo()
    raw = json.loads(
        cargo.capture(cargo_bin, ["metadata", "--format-version", "1", "--no-deps", "--offline"], cwd=cwd)
    )
    workspace_root = Path(raw["workspace_root"])
    target_dir = (cwd / options.target_dir).resolve() if options.target_dir else Path(raw["target_directory"])
    st = stamp.read(target_dir)
    if st is None:
        log.warning(
            f"no cook stamp in {target_dir}: building without settling mtimes, so unchanged local crates "
            "may recompile (run `cargo chefpy cook` first with the same --target-dir)"
        )
    else:
        depth = 0 if st.workspace == "." else len(st.workspace.split("/"))
        recipe_root = workspace_root.parents[depth - 1] if depth else workspace_root
        if depth and workspace_root.relative_to(recipe_root).as_posix() != st.workspace:
            raise StampError(
                f"the cook stamp expects the workspace at {st.workspace}, but it is at {workspace_root}",
                hint="run cook and build at the same WORKDIR layout",
            )
        result = settle(st, recipe_root)
        parts = [f"{st.kept_crates} kept crate(s)", f"{st.external_crates} external"]
        parts += [f"{d}/" for d in st.vendored_dirs]
        log.status(
            "Settled",
            f"{result.unchanged} unchanged file(s) ({', '.join(parts)}); {result.changed} changed"
            + (f", {result.missing} missing" if result.missing else ""),
        )
        for note in drift(st.options, options.drift_fields()):
            log.warning(note)
        extra = sorted(set(options.packages or options.bins) - set(st.packages))
        if extra and st.packages:
            log.warning(
                f"building {', '.join(extra)}, which cook did not build (cooked {', '.join(st.packages)}): "
                "dependencies only they need compile now, and shared ones may recompile with other features"
            )
    code = cargo.run_streamed(cargo_bin, cargo_args(options, offline=True), cwd=cwd)
    if code != 0:
        raise BuildFailed(f"the build failed (cargo exited with {code})", code=code)
    return 0
