"""The shape matrix: prepare -> cook -> final build, real cargo, many workspace shapes, both mtime modes,
both flows: the generated Dockerfile's two cook layers (layer 1 from recipe.deps.json, layer 2 from
recipe.json on top of it), and recipe.json alone in one layer.

Each shape (integration/support/shapes.py) is written with every mtime old, prepared and cooked once; then the
developer's edits land (the stubbed target's source, and for some shapes a kept library or a file outside
any package), prepare and cook run again (a Docker cache hit when the recipe did not change), and the final
stage copies the edited context over the cooked layer, its mtimes preserved or all new (a CI checkout).
Every case checks:
1. the real binaries run and print the edited text;
2. exactly the expected crates compile in the final stage (cargo's own `Compiling` lines);
3. no dummy binary is left in target/ (`binary_problems`);
and that the edits reuse the cooked layer exactly when they touch nothing the recipe carries.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.support.flow import DockerFlow
from integration.support.shapes import Shape, all_shapes, apply_edits, host_triple, write_shape

SHAPES = all_shapes()


def profile_dirs(target: Path) -> Iterator[Path]:
    """Every cargo output directory for one profile: target/<profile>/ and target/<triple>/<profile>/."""
    for level1 in sorted(target.iterdir()) if target.is_dir() else ():
        if not level1.is_dir() or level1.is_symlink():
            continue
        if (level1 / ".fingerprint").is_dir():
            yield level1
        for level2 in sorted(level1.iterdir()):
            if level2.is_dir() and not level2.is_symlink() and (level2 / ".fingerprint").is_dir():
                yield level2


def binary_problems(target: Path, build_dir: Path, expected: Mapping[str, str]) -> list[str]:
    """What is wrong with the binaries under `target`, as readable lines (none when all is well).

    Every executable regular file directly in a profile directory must be one of the `expected` names, and
    prints (run with no arguments) a text containing `expected[name]`: a dummy binary, which prints nothing,
    never does. Every expected binary must be in `build_dir`, the profile directory the build wrote.
    """
    problems: list[str] = []
    for directory in profile_dirs(target):
        for entry in sorted(directory.iterdir()):
            mode = entry.lstat().st_mode
            if not stat.S_ISREG(mode) or not mode & 0o111:
                continue
            where = entry.relative_to(target.parent)
            if entry.name not in expected:
                problems.append(f"unexpected executable {where}")
                continue
            run = subprocess.run([str(entry)], capture_output=True, text=True, check=False, timeout=30)
            if run.returncode != 0 or expected[entry.name] not in run.stdout:
                problems.append(
                    f"{where} printed {run.stdout.strip()!r} (exit {run.returncode}),"
                    f" expected {expected[entry.name]!r}"
                )
    for name in expected:
        if not (build_dir / name).is_file():
            problems.append(f"no binary {name} in {build_dir.relative_to(target.parent)}")
    return problems


@dataclass(frozen=True, slots=True)
class Cooked:
    flow: DockerFlow
    reused: bool


@pytest.fixture(scope="module")
def cooked(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Shape, bool], Cooked]:
    """Write, prepare and cook a shape, edit it, prepare and cook again: once per shape and flow for both
    modes (each final stage starts from the saved cooked layer). `layers`: the two cook layers of the
    generated Dockerfile (recipe.deps.json, then recipe.json on top), else recipe.json alone."""
    done: dict[tuple[str, bool], Cooked] = {}
    triple = host_triple()

    def get(shape: Shape, layers: bool) -> Cooked:
        if (shape.name, layers) not in done:
            tmp = tmp_path_factory.mktemp(shape.name)
            root = tmp / "context" / "ws"
            write_shape(shape, root)
            target = ["--target", triple] if shape.host_target else []
            flow = DockerFlow(
                tmp,
                root,
                prepare_args=list(shape.prepare_args),
                cook_args=[*shape.cargo_args, *target],
                build_args=[*shape.cargo_args, *target],
                layers=layers,
            )
            flow.cook(flow.prepare())
            apply_edits(shape, root)
            reused = flow.cook(flow.prepare())
            done[shape.name, layers] = Cooked(flow, reused)
        return done[shape.name, layers]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
@pytest.mark.parametrize("layers", [True, False], ids=["two-layers", "one-layer"])
@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_final_stage_builds_the_real_edited_binaries_and_compiles_only_the_edited_crates(
    cooked: Callable[[Shape, bool], Cooked], shape: Shape, layers: bool, preserve_mtimes: bool
) -> None:
    c = cooked(shape, layers)
    stage = c.flow.final(preserve_mtimes=preserve_mtimes)
    target = stage.workspace / "target"
    build_dir = target / (host_triple() if shape.host_target else "") / shape.profile_dir
    problems = binary_problems(target, build_dir, shape.binaries)
    if stage.compiled != shape.compiled:
        problems.append(f"compiled {sorted(stage.compiled)}, expected {sorted(shape.compiled)}")
    if c.reused != shape.reuses_cook:
        problems.append("the edits recooked" if shape.reuses_cook else "the edits reused a stale cook layer")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------------
# The dummy-binary check itself can fail (no cargo: small shell scripts stand in for binaries)
# ----------------------------------------------------------------------------------------------------


def _fake_binary(path: Path, prints: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{prints}'\n" if prints else "#!/bin/sh\nexit 0\n")
    path.chmod(0o755)


def _fake_target(tmp: Path) -> Path:
    target = tmp / "target"
    for profile in ("release", "x86_64-unknown-linux-gnu/release"):
        (target / profile / ".fingerprint").mkdir(parents=True)
    _fake_binary(target / "release" / "rg", "edited rg")
    return target


def test_binary_check_accepts_only_the_expected_real_binaries(tmp_path: Path) -> None:
    target = _fake_target(tmp_path)
    (target / "release" / "librg.rlib").write_text("not executable")
    os.mkdir(target / "release" / "build")
    assert binary_problems(target, target / "release", {"rg": "edited rg"}) == []


def test_binary_check_catches_a_planted_dummy_binary(tmp_path: Path) -> None:
    target = _fake_target(tmp_path)
    _fake_binary(target / "release" / "ripgrep", "")
    assert binary_problems(target, target / "release", {"rg": "edited rg"}) == [
        "unexpected executable target/release/ripgrep"
    ]


def test_binary_check_catches_a_dummy_under_a_target_triple(tmp_path: Path) -> None:
    target = _fake_target(tmp_path)
    _fake_binary(target / "x86_64-unknown-linux-gnu" / "release" / "stub", "")
    assert binary_problems(target, target / "release", {"rg": "edited rg"}) == [
        "unexpected executable target/x86_64-unknown-linux-gnu/release/stub"
    ]


def test_binary_check_catches_an_expected_binary_that_prints_the_empty_stub(tmp_path: Path) -> None:
    target = _fake_target(tmp_path)
    _fake_binary(target / "release" / "rg", "")
    assert binary_problems(target, target / "release", {"rg": "edited rg"}) == [
        "target/release/rg printed '' (exit 0), expected 'edited rg'"
    ]


def test_binary_check_catches_a_missing_binary(tmp_path: Path) -> None:
    target = _fake_target(tmp_path)
    assert binary_problems(target, target / "release", {"rg": "edited rg", "rga": "x"}) == [
        "no binary rga in target/release"
    ]
