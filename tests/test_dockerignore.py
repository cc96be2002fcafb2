"""The build context's .dockerignore: Docker's matching rules, and what `dockerfile` writes, appends or
warns about (real temporary directories; cargo metadata replayed)."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from cargo_chefpy import dockerignore
from cargo_chefpy.cli import main
from cargo_chefpy.log import Log
from tests.conftest import FakeWorkspace

Make = Callable[..., FakeWorkspace]
KEEP_OUT = ("target", ".git")


@pytest.mark.parametrize(
    "text",
    [
        "target\n.git\n",
        "target/\n.git/\n",
        "/target\n/.git/\n",
        "./target\n.git/**\n",
        "**/target/\n**/.git\n",
        "target/*\n.git/*\n",
        "*\n",
        "# comment\n\n  target  \r\n.git\r\n",
        "\ufefftarget\n.gi[t]\n",
        "!target\ntarget\n.g?t\n",
    ],
)
def test_patterns_docker_reads_as_excluding_target_and_git_are_recognised(text: str) -> None:
    assert dockerignore.missing(text, KEEP_OUT) == []


@pytest.mark.parametrize(
    ("text", "gaps"),
    [
        ("", ["target", ".git"]),
        ("# target\n", ["target", ".git"]),
        ("target\n!target\n.git\n", ["target"]),
        ("target/debug\n.git\n", ["target"]),
        ("src/target\n", ["target", ".git"]),
        ("*/target\n.git\n", ["target"]),
        ("targets\n.github\n", ["target", ".git"]),
        ("*\n!target/\n", ["target"]),
    ],
)
def test_patterns_that_let_target_or_git_through_are_reported(text: str, gaps: list[str]) -> None:
    assert dockerignore.missing(text, KEEP_OUT) == gaps


def test_a_workspace_below_the_context_needs_its_own_target_path() -> None:
    assert dockerignore.missing("target/\n.git/\n", ("ws/target", ".git")) == ["ws/target"]
    assert dockerignore.missing("**/target/\n.git/\n", ("ws/target", ".git")) == []
    assert dockerignore.missing("ws/target\n.git/\n", ("ws/target", ".git")) == []


def run_ensure(tmp_path: Path, *, write: bool) -> str:
    stream = io.StringIO()
    dockerignore.ensure(tmp_path, KEEP_OUT, write=write, shown=".dockerignore", log=Log(stream))
    return stream.getvalue()


def test_a_missing_file_is_written_with_the_lines_the_readme_shows(tmp_path: Path) -> None:
    err = run_ensure(tmp_path, write=True)
    text = (tmp_path / ".dockerignore").read_text()
    assert text.splitlines()[1:] == ["target/", "**/target/", ".git/"]
    assert text.startswith("# ")
    assert "Wrote .dockerignore, keeping target/ and .git/ out of the build context" in err
    assert dockerignore.missing(text, KEEP_OUT) == []


def test_an_incomplete_file_gets_only_the_missing_lines_appended_after_its_own_bytes(tmp_path: Path) -> None:
    path = tmp_path / ".dockerignore"
    original = b"node_modules\n# mine \xff\n!keep\ntarget"  # no final newline, not UTF-8
    path.write_bytes(original)
    path.chmod(0o600)
    err = run_ensure(tmp_path, write=True)
    data = path.read_bytes()
    assert data.startswith(original + b"\n# added by `cargo chefpy dockerfile`")
    assert data.endswith(b"\n.git/\n")
    assert data.count(b"target") == 1, "target was covered already"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Appended .git/ to .dockerignore, to keep it out of the build context" in err
    assert run_ensure(tmp_path, write=True) == "", "a second run finds it complete and changes nothing"
    assert path.read_bytes() == data


def test_a_complete_file_is_left_byte_for_byte_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / ".dockerignore"
    path.write_text("/target/\n.git\n")
    os.utime(path, (1000, 1000))
    assert run_ensure(tmp_path, write=True) == ""
    assert path.read_text() == "/target/\n.git\n"
    assert path.stat().st_mtime == 1000


def test_without_write_a_missing_file_is_a_warning_with_a_hint_giving_the_lines(tmp_path: Path) -> None:
    err = run_ensure(tmp_path, write=False).splitlines()
    assert err[0].startswith("warning: the build context has no .dockerignore: a host target/ would be")
    assert err[1] == (
        "hint: run `printf 'target/\\n.git/\\n' >> .dockerignore`, "
        "or write the Dockerfile with --output Dockerfile"
    )
    assert not (tmp_path / ".dockerignore").exists()


def test_without_write_an_incomplete_file_is_named_with_what_it_misses_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text(".git\n")
    err = run_ensure(tmp_path, write=False).splitlines()
    assert err[0].startswith(
        "warning: .dockerignore does not keep target/ out: a host target/ would be sent to the engine"
    )
    assert err[1].startswith("hint: run `printf 'target/\\n' >> .dockerignore`")
    assert (tmp_path / ".dockerignore").read_text() == ".git\n"


def test_an_unwritable_context_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").mkdir()  # what cannot be read is reported, never replaced
    err = run_ensure(tmp_path, write=True).splitlines()
    assert err[0].startswith("warning: could not read .dockerignore (it is a directory)")
    assert err[1].startswith("hint: ")
    assert (tmp_path / ".dockerignore").is_dir()


# --- through the command ----------------------------------------------------------------------------


def test_dockerfile_to_a_file_writes_the_contexts_dockerignore(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace()
    assert main(["dockerfile", "-p", "serviceZ", "--output", "Dockerfile"], cwd=ws.root) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert (ws.root / ".dockerignore").read_text().splitlines()[1:] == ["target/", "**/target/", ".git/"]
    assert "warning" not in err


def test_dockerfile_to_stdout_prints_only_the_dockerfile_and_warns_on_stderr(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace()
    assert main(["dockerfile", "-p", "serviceZ"], cwd=ws.root) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Dockerfile for serviceZ")
    assert "warning" not in out
    assert "hint" not in out
    assert "warning: the build context has no .dockerignore" in err
    assert "hint: run `printf 'target/\\n.git/\\n' >> .dockerignore`" in err
    assert not (ws.root / ".dockerignore").exists()


def test_a_context_above_the_workspace_gets_the_dockerignore_at_its_root(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed-all")  # a path dependency outside the root: the parent is the build context
    assert main(["dockerfile", "-p", "serviceZ", "--output", "Dockerfile"], cwd=ws.root) == 0
    ignore = ws.root.parent / ".dockerignore"
    assert ignore.read_text().splitlines()[1:] == ["ws/target/", "**/target/", ".git/"]
    assert "Wrote ../.dockerignore" in capsys.readouterr().err
    assert not (ws.root / ".dockerignore").exists()


def test_dockerfile_to_dev_null_only_checks(workspace: Make, capsys: pytest.CaptureFixture[str]) -> None:
    ws = workspace()
    assert main(["dockerfile", "-p", "serviceZ", "--output", os.devnull], cwd=ws.root) == 0
    assert "warning: the build context has no .dockerignore" in capsys.readouterr().err
    assert not (ws.root / ".dockerignore").exists()


def test_a_dockerignore_that_is_a_named_pipe_is_a_warning_never_a_wait(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".dockerignore")  # reading it would wait for a writer forever
    err = run_ensure(tmp_path, write=True).splitlines()
    assert err[0].startswith("warning: could not read .dockerignore (it is a named pipe (FIFO))"), err
    assert err[1].startswith("hint: "), err
    assert stat.S_ISFIFO(os.lstat(tmp_path / ".dockerignore").st_mode), "left as it is"
