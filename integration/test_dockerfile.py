"""`cargo chefpy dockerfile` on real workspaces (real `cargo metadata`), without Docker.

Also keeps the README honest: its example Dockerfile must be what the generator writes for the demo
workspace. `integration/test_docker_e2e.py` builds both with a real engine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cargo_chefpy.cli import main
from integration.support.flow import ROOT, chefpy
from integration.support.workspaces import ALL_OPTIONS, run_cargo, write_seed

README = ROOT / "README.md"
BEGIN, END = "<!-- dockerfile:begin -->", "<!-- dockerfile:end -->"


def readme_section() -> str:
    """The README's Docker section: the text between its dockerfile markers."""
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text, f"{README} lost its {BEGIN} marker"
    assert END in text, f"{README} lost its {END} marker"
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def readme_block(language: str) -> str:
    """The first ```language fenced block of the README's Docker section."""
    found = re.search(rf"^```{re.escape(language)}\n(.*?)^```$", readme_section(), re.MULTILINE | re.DOTALL)
    assert found, f"no ```{language} block between the dockerfile markers of {README}"
    return found.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace, as `python -m integration.support.workspaces demo DIR` writes it."""
    return write_seed(tmp_path_factory.mktemp("demo") / "ws").root


def generate(cwd: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["chefpy", "dockerfile", *args], cwd=cwd)
    out, err = capsys.readouterr()
    return code, out, err


def test_output_names_the_real_binary_package_and_vendored_dir(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = generate(demo, "-p", "serviceZ", capsys=capsys)
    assert code == 0
    instructions = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert (
        "RUN cargo chefpy prepare -p serviceZ --recipe-path recipe.json --sources-dir /plan/sources"
        in instructions
    )
    assert "COPY --from=planner /app/recipe.json recipe.json" in instructions
    assert "COPY vendore[d] vendored/" in instructions
    assert "COPY --from=planner /app/recipe.deps.json recipe.deps.json" in instructions
    assert "RUN cargo chefpy cook --release -p serviceZ --recipe-path recipe.deps.json" in instructions
    assert "RUN cargo chefpy cook --release -p serviceZ" in instructions
    assert "RUN cargo chefpy build --release -p serviceZ" in instructions
    assert "ENV CARGO_TARGET_DIR=/app-target" in instructions, "the target dir lies outside the copied tree"
    assert "COPY --from=build /app-target/release/serviceZ /usr/local/bin/serviceZ" in instructions
    assert instructions[-1] == 'ENTRYPOINT ["/usr/local/bin/serviceZ"]'
    stages = [line.split()[-1] for line in instructions if line.startswith("FROM ")]
    assert stages == ["chef", "planner", "deps", "cook", "build", "runtime"]
    # the vendored sources go to layer 1, which layer 2 is built FROM
    assert instructions.index("COPY vendore[d] vendored/") < instructions.index("FROM deps AS cook")
    assert [line for line in instructions if line.startswith("WORKDIR")] == ["WORKDIR /app"]
    assert "rust-patches" not in out, "only what cook needs is named"
    assert "serviceX" not in out


def test_output_has_no_syntax_line_and_no_copy_link_for_buildkit_0_8(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = generate(demo, "-p", "serviceZ", capsys=capsys)
    assert "# syntax" not in out
    assert "--link" not in out
    assert "python3" in out, "the header says that the builder image needs python3"
    assert "rust:<version>-slim images do not" in out


def test_bin_selects_the_binary_and_images_become_the_arg_defaults(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = ["--base-image", "local/rust:1", "--runtime-image", "local/run:1"]
    code, out, _ = generate(demo, "--bin", "serviceY", *images, capsys=capsys)
    assert code == 0
    assert "ARG BASE_IMAGE=local/rust:1\nARG RUNTIME_IMAGE=local/run:1\n" in out
    assert "FROM ${BASE_IMAGE} AS chef" in out
    assert "FROM ${RUNTIME_IMAGE} AS runtime" in out
    assert "RUN cargo chefpy cook --release --bin serviceY" in out
    assert "/app-target/release/serviceY /usr/local/bin/serviceY" in out
    assert f"`cargo chefpy dockerfile --bin serviceY {' '.join(images)}`" in out


def test_output_is_deterministic_and_free_of_host_paths(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = write_seed(tmp_path / "elsewhere" / "checkout").root
    outputs = [generate(where, "-p", "serviceZ", capsys=capsys)[1] for where in (demo, demo, other)]
    assert outputs[0] == outputs[1] == outputs[2]
    assert str(demo) not in outputs[0]
    assert str(tmp_path) not in outputs[0]


def test_output_option_replaces_the_file_atomically_and_leaves_no_temporary_file(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "Dockerfile"
    target.parent.mkdir()
    target.write_text("old\n")
    before = tmp_path / "out" / "old-link"
    os.link(target, before)  # a hard link to the old inode: an in-place write would change it too
    code, out, err = generate(demo, "-p", "serviceZ", "--output", str(target), capsys=capsys)
    assert code == 0
    assert out == "", "with --output nothing goes to stdout"
    assert "Wrote" in err
    assert before.read_text() == "old\n", "the old file was rewritten in place, not replaced"
    assert target.read_text() == generate(demo, "-p", "serviceZ", capsys=capsys)[1]
    assert sorted(p.name for p in target.parent.iterdir()) == ["Dockerfile", "old-link"]


def test_output_to_a_directory_is_a_write_error(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = generate(demo, "-p", "serviceZ", "--output", str(tmp_path), capsys=capsys)
    assert code == 6
    assert out == ""
    assert err.startswith("error: the output path")
    assert "\nhint: " in err


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--bin", "serviceQ"], "error: --bin `serviceQ` matches no binary", "hint: did you mean serviceZ"),
        (["-p", "servicez"], "error: package `servicez` matches no member", "hint: did you mean serviceZ"),
        (["-p", "libB"], "error: package `libB` has no binary target", "serviceX, serviceY, serviceZ"),
        ([], "error: this workspace has 3 package(s) with a binary", "hint: pass -p PACKAGE or --bin NAME"),
    ],
    ids=["unknown-bin", "unknown-package", "library-only", "no-selection"],
)
def test_a_selection_without_a_binary_exits_4_with_error_and_hint(
    demo: Path, args: list[str], message: str, hint: str
) -> None:
    proc = chefpy(["dockerfile", *args], demo)  # as a user runs it: a child process
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(message), proc.stderr
    assert lines[-1].startswith("hint: "), proc.stderr
    assert hint in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_path_dependency_outside_the_root_makes_the_parent_the_build_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_seed(tmp_path / "ws", ALL_OPTIONS).root
    code, out, _ = generate(root, "-p", "serviceZ", capsys=capsys)
    assert code == 0
    assert "#   docker build -t servicez -f Dockerfile ..\n" in out
    assert "RUN cargo chefpy prepare --manifest-path ws/Cargo.toml -p serviceZ" in out
    assert "COPY ws/vendore[d] ws/vendored/\n" in out
    build = "COPY --from=planner /plan/sources/ ./\nWORKDIR /app/ws\n"
    build += "RUN cargo chefpy build --release -p serviceZ\n"
    assert build in out
    assert "COPY --from=build /app-target/release/serviceZ /usr/local/bin/serviceZ" in out


def test_readme_dockerfile_is_what_the_generator_writes_for_the_demo_workspace(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = generate(demo, "-p", "serviceZ", capsys=capsys)
    assert readme_block("dockerfile") == out, "regenerate the README's Dockerfile block"


def test_readme_docker_section_covers_the_zipapp_dockerignore_and_ci_caching() -> None:
    section = readme_section()
    assert section.lstrip().startswith("## Using it in Docker")
    assert "target/" in readme_block("dockerignore").splitlines()
    for needle in (
        "make zipapp",
        "cp path/to/cargo-chefpy/dist/cargo-chefpy .",
        "cargo chefpy dockerfile -p serviceZ --output Dockerfile",
        "### CI fleets: sharing the cooked layer",
        "--build-arg BUILDKIT_INLINE_CACHE=1",
        "--cache-from",
        "--cache-to type=registry",
        "docker-container",
        "docker push",
        "SOURCE_DATE_EPOCH",
        "--network=none",
    ):
        assert needle in section, needle


def test_as_a_child_process_stdout_holds_only_the_dockerfile_and_a_file_output_writes_the_dockerignore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_seed(tmp_path / "ws").root
    expected = generate(root, "-p", "serviceZ", capsys=capsys)[1]
    proc = chefpy(["dockerfile", "-p", "serviceZ"], root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected
    assert "warning: the build context has no .dockerignore" in proc.stderr
    assert not (root / ".dockerignore").exists()
    proc = chefpy(["dockerfile", "-p", "serviceZ", "--output", "Dockerfile"], root)
    assert proc.returncode == 0, proc.stderr
    assert (root / "Dockerfile").read_text() == expected
    assert (root / ".dockerignore").read_text().splitlines()[1:] == readme_block("dockerignore").splitlines()
    assert "warning" not in proc.stderr


def test_services_whose_recipes_root_apart_are_refused_with_a_hint_to_write_one_dockerfile_each(
    tmp_path: Path,
) -> None:
    """svcy alone uses a path dependency outside the workspace: its recipe is rooted one level up, so
    its local cook would land beside the shared third-party layer's workspace, not on it."""
    ws = tmp_path / "ws"
    for name, deps in (("svcx", ""), ("svcy", 'ext = { path = "../../ext" }\n')):
        (ws / name / "src").mkdir(parents=True)
        (ws / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n{deps}'
        )
        (ws / name / "src/main.rs").write_text("fn main() {}\n")
    (tmp_path / "ext/src").mkdir(parents=True)
    (tmp_path / "ext/Cargo.toml").write_text('[package]\nname = "ext"\nversion = "0.1.0"\nedition = "2021"\n')
    (tmp_path / "ext/src/lib.rs").write_text("")
    (ws / "Cargo.toml").write_text('[workspace]\nmembers = ["svcx", "svcy"]\nresolver = "2"\n')
    assert chefpy(["prepare", "--recipe-path", "-", "-q"], ws).returncode == 3  # no lock yet
    run_cargo(["generate-lockfile", "--offline"], ws)
    proc = chefpy(["dockerfile", "-p", "svcx", "-p", "svcy"], ws)
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["error", "hint"], proc.stderr
    assert "svcx's recipe is rooted at" in lines[0]
    assert "cargo chefpy dockerfile -p svcx --output Dockerfile.svcx" in lines[1]
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("setting", "directory"),
    [
        ('"aarch64-unknown-linux-musl"', "aarch64-unknown-linux-musl"),
        ('["aarch64-unknown-linux-musl"]', "aarch64-unknown-linux-musl"),
        ('"specs/custom-target.json"', "custom-target"),
    ],
    ids=["triple", "one-element-list", "target-spec-file"],
)
def test_build_target_in_the_cargo_config_puts_the_runtime_copy_under_that_target_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, directory: str
) -> None:
    """cargo puts every output under <target-dir>/<triple>/release when build.target is set (a static musl
    build, the usual reason): the runtime stage must copy the binary from there."""
    root = write_seed(tmp_path / "ws").root
    with (root / ".cargo/config.toml").open("a") as config:
        config.write(f"\n[build]\ntarget = {setting}\n")
    code, out, _ = generate(root, "-p", "serviceZ", capsys=capsys)
    assert code == 0
    assert f"COPY --from=build /app-target/{directory}/release/serviceZ /usr/local/bin/serviceZ\n" in out
    code, out, _ = generate(root, "-p", "serviceZ", "-p", "serviceX", capsys=capsys)
    assert code == 0
    for name in ("serviceZ", "serviceX"):
        assert f"/app-target/{directory}/release/{name} /usr/local/bin/{name}\n" in out


@pytest.mark.parametrize("setting", ['"host-tuple"', '["host-tuple"]'], ids=["string", "list"])
def test_build_target_host_tuple_in_the_cargo_config_is_refused_with_a_hint_to_name_the_triple(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str
) -> None:
    """cargo 1.95 puts a `build.target = "host-tuple"` build under <target-dir>/<the build machine's triple>:
    the Dockerfile cannot know the build image's triple, and a COPY from target/host-tuple/ fails."""
    root = write_seed(tmp_path / "ws").root
    with (root / ".cargo/config.toml").open("a") as config:
        config.write(f"\n[build]\ntarget = {setting}\n")
    code, out, err = generate(root, "-p", "serviceZ", capsys=capsys)
    lines = err.strip().splitlines()
    assert code == 3
    assert out == ""
    assert lines[0].startswith("error: ")
    assert "host-tuple" in lines[0]
    assert lines[1].startswith("hint: ")
    assert "triple" in lines[1]
    assert len(lines) == 2
