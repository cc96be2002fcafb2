"""build under --locked: cargo may drop from Cargo.lock only what cook saw it drop from the recipe's lock
(`stamp.lock_drops`); anything else, or a resolution cut short, is put back as it was: the bytes, the
permission bits, and a symlink still a symlink. cargo is faked (pytest-subprocess); the locks are ones real
cargo wrote (tests/data/optional-*.lock)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytest_subprocess import FakeProcess

from cargo_chefpy import build, cargo, stamp
from cargo_chefpy.log import Log
from cargo_chefpy.options import CargoOptions

DATA = Path(__file__).parent / "data"
PRUNED = (DATA / "optional-pruned.lock").read_bytes()  # the recipe's: fake-opt kept
CARGOS = (DATA / "optional-cargo.lock").read_bytes()  # what cargo wrote: fake-opt dropped
FAKE_OPT = "fake-opt 0.1.0 registry+https://github.com/rust-lang/crates.io-index"


def cooked(drops: tuple[str, ...] = (FAKE_OPT,)) -> stamp.Stamp:
    return stamp.Stamp(
        recipe="0" * 64, workspace=".", options={}, packages=(), files={}, vendored={}, vendored_dirs=(),
        kept_crates=0, external_crates=0, lock_drops=drops,
    )  # fmt: skip


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    """Cargo.lock as a symlink to a 0600 file, both beside Cargo.toml."""
    (tmp_path / "Cargo.toml").write_text("[workspace]\n")
    real = tmp_path / "real.lock"
    real.write_bytes(PRUNED)
    real.chmod(0o600)
    (tmp_path / "Cargo.lock").symlink_to("real.lock")
    return tmp_path / "Cargo.lock"


def prune(
    lock: Path, fp: FakeProcess, writes: bytes | None, returncode: int = 0, **stamp_args: object
) -> str:
    def resolve(_: object) -> None:  # cargo writes the lock it resolved, through the symlink
        if writes is not None:
            lock.write_bytes(writes)

    fp.register(["cargo", "metadata", fp.any()], callback=resolve, returncode=returncode, stdout="{}")
    log_lines: list[str] = []

    class Lines:
        def write(self, text: str) -> None:
            log_lines.append(text)

        def flush(self) -> None:
            pass

    log = Log(Lines(), quiet=False)  # type: ignore[arg-type]
    build.prune_lock(
        CargoOptions(locked=True), "cargo", lock.with_name("Cargo.toml"), run_in=lock.parent,
        st=cooked(**stamp_args), log=log,  # type: ignore[arg-type]
    )  # fmt: skip
    return "".join(log_lines)


def assert_as_it_was(lock: Path) -> None:
    """The bytes, the permission bits, and the symlink (the content may be back in a new file)."""
    assert lock.is_symlink()
    assert os.readlink(lock) == "real.lock"
    real = lock.with_name("real.lock")
    assert real.read_bytes() == PRUNED
    assert real.stat().st_mode & 0o777 == 0o600


def test_cargo_dropping_what_cook_saw_it_drop_is_kept(lock: Path, fp: FakeProcess) -> None:
    said = prune(lock, fp, CARGOS)
    assert lock.read_bytes() == CARGOS
    assert lock.is_symlink()
    assert "Locked Cargo.lock without 1 entry(ies) that only pruned members used" in " ".join(said.split())


def test_a_drop_cook_did_not_see_is_put_back_through_the_symlink_with_its_mode(
    lock: Path, fp: FakeProcess
) -> None:
    said = prune(lock, fp, CARGOS, drops=())
    assert_as_it_was(lock)
    assert "Locked" not in said


def test_a_lock_cargo_extended_is_put_back(lock: Path, fp: FakeProcess) -> None:
    lock.with_name("real.lock").write_bytes(CARGOS)  # a lock without fake-opt, which cargo adds back
    prune(lock, fp, PRUNED)
    assert lock.read_bytes() == CARGOS
    assert lock.is_symlink()


def test_a_failed_resolution_leaves_the_lock_untouched(lock: Path, fp: FakeProcess) -> None:
    inode = lock.stat().st_ino
    prune(lock, fp, None, returncode=101)
    assert lock.stat().st_ino == inode  # not even rewritten with the same bytes
    assert_as_it_was(lock)


def test_a_resolution_cut_short_after_cargo_wrote_the_lock_puts_it_back(
    lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> str:  # Ctrl-C once cargo has written the lock
        lock.write_bytes(CARGOS)
        raise KeyboardInterrupt

    monkeypatch.setattr(cargo, "capture", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build.prune_lock(
            CargoOptions(locked=True), "cargo", lock.with_name("Cargo.toml"), run_in=lock.parent,
            st=cooked(), log=Log(),
        )  # fmt: skip
    assert_as_it_was(lock)
