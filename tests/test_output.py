"""User-named outputs (`prepare --recipe-path`, `dockerfile --output`, stdout) and the directory helpers
that must not recurse: real temporary files, FIFOs, symlinks and devices, no process."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import stat
import sys
import threading
from pathlib import Path

import pytest

from cargo_chefpy import fsutil
from cargo_chefpy.errors import WriteError

DATA = b'{"format": "cargo-chefpy-recipe"}\n'


def deep_tree(top: Path, depth: int | None = None) -> Path:
    """A chain of one-letter directories deeper than Python's recursion limit; returns the innermost."""
    depth = depth or sys.getrecursionlimit() + 100
    current = str(top)
    os.mkdir(current)
    for _ in range(depth):
        current += "/d"
        os.mkdir(current)
    return Path(current)


# --- where an output goes ------------------------------------------------------------------------


def test_a_new_file_is_written_atomically_with_no_temporary_file_left(tmp_path: Path) -> None:
    fsutil.write_output(tmp_path / "recipe.json", DATA, what="recipe")
    assert (tmp_path / "recipe.json").read_bytes() == DATA
    assert os.listdir(tmp_path) == ["recipe.json"]


def test_an_existing_file_is_replaced_and_keeps_its_permission_bits(tmp_path: Path) -> None:
    target = tmp_path / "recipe.json"
    target.write_bytes(b"old")
    target.chmod(0o600)
    old_link = tmp_path / "old-link"
    os.link(target, old_link)  # a hard link to the old inode: an in-place write would change it too
    fsutil.write_output(target, DATA, what="recipe")
    assert target.read_bytes() == DATA
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert old_link.read_bytes() == b"old"


def test_a_symlink_is_followed_and_its_target_written_atomically(tmp_path: Path) -> None:
    real = tmp_path / "real" / "recipe.json"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "recipe.json"
    link.symlink_to(real)
    fsutil.write_output(link, DATA, what="recipe")
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_bytes() == DATA
    assert sorted(os.listdir(real.parent)) == ["recipe.json"]


def test_a_dangling_symlink_is_followed_and_its_target_created(tmp_path: Path) -> None:
    link = tmp_path / "Dockerfile"
    link.symlink_to("generated/Dockerfile")
    (tmp_path / "generated").mkdir()
    fsutil.write_output(link, DATA, what="Dockerfile")
    assert link.is_symlink()
    assert (tmp_path / "generated/Dockerfile").read_bytes() == DATA


def test_a_symlink_loop_is_a_write_error_and_stays(tmp_path: Path) -> None:
    link = tmp_path / "recipe.json"
    link.symlink_to("recipe.json")
    with pytest.raises(WriteError, match="symlink loop"):
        fsutil.write_output(link, DATA, what="recipe")
    assert os.readlink(link) == "recipe.json"


def test_a_named_pipe_is_streamed_to_and_stays_a_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read)
    reader.start()
    fsutil.write_output(fifo, DATA * 10_000, what="recipe")  # larger than a pipe's buffer
    reader.join(10)
    assert received == [DATA * 10_000]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_dev_null_is_written_to_and_stays_a_character_device() -> None:
    fsutil.write_output(Path("/dev/null"), DATA, what="recipe")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_symlink_to_dev_null_stays_a_symlink_and_the_device_a_device(tmp_path: Path) -> None:
    link = tmp_path / "recipe.json"
    link.symlink_to("/dev/null")
    fsutil.write_output(link, DATA, what="recipe")
    assert os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_proc_self_fd_path_is_streamed_into_the_open_pipe(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        fsutil.write_output(Path(f"/proc/self/fd/{write_end}"), DATA, what="recipe")
        assert os.read(read_end, 1000) == DATA
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_full_device_is_a_write_error_not_a_traceback() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with pytest.raises(WriteError, match="no space left"):
        fsutil.write_output(Path("/dev/full"), DATA, what="recipe")
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="is a directory"):
        fsutil.check_output(tmp_path, what="recipe path")


def test_a_socket_is_refused_and_left_in_place(tmp_path: Path) -> None:
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    with pytest.raises(WriteError, match="is a socket"):
        fsutil.write_output(path, DATA, what="recipe")
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_a_block_device_is_refused(tmp_path: Path) -> None:
    device = next(
        (Path(f"/dev/{n}") for n in ("loop0", "sda", "vda", "nvme0n1") if Path(f"/dev/{n}").exists()), None
    )
    if device is None or not stat.S_ISBLK(os.stat(device).st_mode):
        pytest.skip("no block device here")
    before = os.stat(device)
    with pytest.raises(WriteError, match="block device"):
        fsutil.write_output(device, DATA, what="recipe")
    assert os.stat(device).st_rdev == before.st_rdev


def test_a_name_too_long_is_a_write_error_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="file name too long") as info:
        fsutil.write_output(tmp_path / ("x" * 300), DATA, what="recipe")
    assert "shorter path" in info.value.hint


def test_check_name_length_refuses_a_long_name_under_a_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="too long"):
        fsutil.check_name_length(tmp_path / "missing" / ("x" * 300), what="target directory")
    with pytest.raises(WriteError, match="too long"):
        fsutil.check_name_length(tmp_path / "/".join(["d" * 200] * 25), what="target directory")
    fsutil.check_name_length(tmp_path / "missing" / "target", what="target directory")


# --- stdout ----------------------------------------------------------------------------------------


def test_a_closed_stdout_is_a_write_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(WriteError, match="stdout is closed") as info:
        fsutil.write_output(None, DATA, what="recipe", to_file="--recipe-path FILE")
    assert "--recipe-path FILE" in info.value.hint


def test_a_full_stdout_is_a_write_error(monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    full = open("/dev/full", "w")  # noqa: SIM115 - its close fails too (the data is still buffered)
    monkeypatch.setattr(sys, "stdout", full)
    with pytest.raises(WriteError, match="no space left"):
        fsutil.write_stdout(DATA, what="Dockerfile")
    with contextlib.suppress(OSError):
        full.close()


def test_a_stdout_whose_descriptor_was_closed_is_a_write_error(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = open(write_end, "w")  # noqa: SIM115 - closed below, under the error
    os.close(write_end)  # the descriptor goes away under the stream, as after `exec >&-`
    monkeypatch.setattr(sys, "stdout", stream)
    with pytest.raises(WriteError, match="stdout is closed"):
        fsutil.write_stdout(DATA, what="plan")
    with contextlib.suppress(OSError):
        stream.close()


def test_stdout_receives_the_bytes_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    fsutil.write_stdout("caf\u00e9\n".encode(), what="plan")
    assert buffer.getvalue() == "caf\u00e9\n".encode()


# --- directories without recursion --------------------------------------------------------------------


def test_make_dirs_creates_missing_parents_and_reports_them_outermost_first(tmp_path: Path) -> None:
    created = fsutil.make_dirs(tmp_path / "a" / "b" / "c")
    assert created == [tmp_path / "a", tmp_path / "a/b", tmp_path / "a/b/c"]
    assert fsutil.make_dirs(tmp_path / "a" / "b") == []


def test_make_dirs_removes_the_parents_it_created_when_it_fails(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="file name too long"):
        fsutil.make_dirs(tmp_path / "a" / "b" / ("x" * 300))
    assert list(tmp_path.iterdir()) == []


def test_make_dirs_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("mine\n")
    with pytest.raises(WriteError, match="not a directory"):
        fsutil.make_dirs(tmp_path / "a")
    assert (tmp_path / "a").read_text() == "mine\n"


def test_make_dirs_goes_deeper_than_the_recursion_limit(deep_tmp: Path) -> None:
    depth = sys.getrecursionlimit() + 100
    target = deep_tmp / "/".join(["d"] * depth)
    assert len(fsutil.make_dirs(target)) == depth
    assert target.is_dir()


def test_walk_is_os_walk_without_recursion(tmp_path: Path) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/b/f").write_text("")
    (tmp_path / "a/g").write_text("")
    (tmp_path / "link").symlink_to("a")
    mine = [(d, sorted(ds), sorted(fs)) for d, ds, fs in fsutil.walk(tmp_path)]
    theirs = [(d, sorted(ds), sorted(fs)) for d, ds, fs in os.walk(tmp_path)]
    assert sorted(mine) == sorted(theirs)


def test_walk_and_remove_tree_handle_a_tree_deeper_than_the_recursion_limit(deep_tmp: Path) -> None:
    innermost = deep_tree(deep_tmp / "top")
    (innermost / "f").write_text("x")
    files = [os.path.join(d, n) for d, _, names in fsutil.walk(deep_tmp / "top") for n in names]
    assert files == [str(innermost / "f")]
    fsutil.remove_tree(deep_tmp / "top")
    assert list(deep_tmp.iterdir()) == []


def test_remove_tree_never_follows_a_symlink(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "f").write_text("mine\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(keep)
    fsutil.remove_tree(tree)
    assert not tree.exists()
    assert (keep / "f").read_text() == "mine\n"
    top_link = tmp_path / "top-link"
    top_link.symlink_to(keep)
    fsutil.remove_tree(top_link)
    assert not top_link.is_symlink()
    assert (keep / "f").read_text() == "mine\n"


def test_undoing_a_recipe_written_through_a_symlink_restores_the_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    from cargo_chefpy.prepare import _undo_write

    real = tmp_path / "real.json"
    real.write_bytes(b'{"old": 1}\n')
    link = tmp_path / "link.json"
    link.symlink_to("real.json")
    undo = _undo_write(link)
    fsutil.write_output(link, b'{"new": 2}\n', what="deps recipe")
    assert real.read_bytes() == b'{"new": 2}\n'
    undo()
    assert link.is_symlink()
    assert real.read_bytes() == b'{"old": 1}\n'


def test_an_output_in_a_missing_directory_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="does not exist") as info:
        fsutil.check_output(tmp_path / "nodir" / "recipe.json", what="recipe path")
    assert "create the directory" in info.value.hint


@pytest.mark.parametrize(
    ("closed", "path", "named"),
    [
        ("stdout", "/dev/stdout", "stdout"),
        ("stdout", "/dev/fd/1", "stdout"),
        ("stdout", "/proc/self/fd/1", "stdout"),
        ("stdout", f"/proc/{os.getpid()}/fd/1", "stdout"),
        ("stdout", "link-to-link", "stdout"),
        ("stderr", "/dev/stderr", "stderr"),
        ("stdout", "/dev/stderr", None),  # stderr is open
        ("stdout", "/dev/null", None),  # named as itself: a place to discard output, as asked
        ("stdout", "file", None),
        ("stdout", "missing", None),
    ],
)
def test_an_output_leading_to_a_standard_stream_closed_at_start_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed: str, path: str, named: str | None
) -> None:
    """Python leaves a stream closed at start None (the cli then gives its descriptor /dev/null)."""
    (tmp_path / "link").symlink_to("/dev/stdout")
    (tmp_path / "link-to-link").symlink_to("link")
    (tmp_path / "file").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, closed, None)
    try:
        found = fsutil._closed_standard_stream(Path(path))
        raised = None
        try:
            fsutil.check_output(Path(path), what="recipe")
        except WriteError as exc:
            raised = exc
    finally:
        monkeypatch.undo()
    assert found == named
    if named is None:
        assert raised is None
    else:
        assert raised is not None
        assert str(raised) == f"the recipe {path} cannot be written: {named} is closed"


def test_an_output_whose_dotdot_follows_a_symlink_to_the_closed_stream_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`link/../fd/1` with link -> /proc/self/fd is /proc/self/fd/1 to the kernel (`..` after the link's
    target), not ./fd/1 as a lexical normalisation of the path would have it."""
    (tmp_path / "fdlink").symlink_to("/proc/self/fd")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", None)
    try:
        found = [
            fsutil._closed_standard_stream(Path(p)) for p in ("fdlink/../fd/1", f"{tmp_path}/fdlink/../fd/1")
        ]
    finally:
        monkeypatch.undo()
    assert found == ["stdout", "stdout"]
