"""The CLI end to end in-process: real files, cargo metadata replayed from captured JSON."""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_subprocess import FakeProcess

from cargo_chefpy import __version__
from cargo_chefpy.cli import PROG, _cargo_options, build_parser, main, subcommands
from cargo_chefpy.errors import Terminated
from tests.conftest import FakeWorkspace

Make = Callable[..., FakeWorkspace]


def test_version_works_with_the_chefpy_token_cargo_passes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["chefpy", "--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cargo-chefpy {__version__}"


def test_prepare_writes_the_recipe_and_a_one_line_summary(
    workspace: Make, fp: FakeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed")
    assert main(["chefpy", "prepare", "-p", "serviceZ"], cwd=ws.root) == 0
    assert fp.call_count(ws.metadata_argv()) == 1
    recipe = json.loads((ws.root / "recipe.json").read_text())
    assert {c["name"]: c["class"] for c in recipe["crates"]}["serviceZ"] == "stub"
    err = capsys.readouterr().err
    assert err.strip().startswith("Prepared recipe.json: 1 stubbed, 3 kept, 2 pruned, 1 external (")


def test_prepare_writes_the_layer_1_recipe_beside_the_recipe_with_every_local_crate_stubbed(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed")
    assert main(["prepare", "-p", "serviceZ", "--recipe-path", "out.json"], cwd=ws.root) == 0
    local = json.loads((ws.root / "out.json").read_text())
    deps = json.loads((ws.root / "out.deps.json").read_text())
    assert (local["layer"], deps["layer"]) == ("local", "deps")
    assert {c["class"] for c in deps["crates"]} == {"stub"}
    assert {f["role"] for f in deps["files"]} <= {"workspace", "stub"}
    assert "; layer 1 (third-party) in out.deps.json" in capsys.readouterr().err


def test_prepare_refuses_one_path_for_both_recipes_with_exit_code_2(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed")
    code = main(["prepare", "--recipe-path", "r.json", "--deps-recipe-path", "./r.json"], cwd=ws.root)
    assert code == 2
    assert "error: --deps-recipe-path and --recipe-path both name" in capsys.readouterr().err
    assert not (ws.root / "r.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--recipe-path", "r.json", "--deps-recipe-path", "./r.json"],
        ["--recipe-path", "src"],  # a directory
        ["--sources-dir", "src"],  # not empty
        ["--sources-dir", "tree", "--recipe-path", "tree/r.json"],
    ],
)
def test_a_prepare_output_error_is_reported_before_cargo_starts(
    workspace: Make, fp: FakeProcess, args: list[str]
) -> None:
    ws = workspace("seed")
    assert main(["prepare", "-p", "serviceZ", *args], cwd=ws.root) in (2, 6)
    assert fp.call_count(ws.metadata_argv()) == 0
    assert not (ws.root / "r.json").exists()
    assert not (ws.root / "tree").exists()


def test_prepare_to_stdout_prints_only_the_recipe(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed")
    assert main(["prepare", "--recipe-path", "-", "-p", "serviceZ"], cwd=ws.root) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["format"] == "cargo-chefpy-recipe"
    assert not (ws.root / "recipe.json").exists()


def test_prepare_out_dir_writes_the_skeleton_tree(workspace: Make) -> None:
    ws = workspace("seed")
    out = ws.root.parent / "skeleton"
    assert main(["prepare", "--out-dir", str(out), "-p", "serviceZ"], cwd=ws.root) == 0
    assert (out / "src/libA/src/lib.rs").read_text() == (ws.root / "src/libA/src/lib.rs").read_text()
    assert "fn main() {}" in (out / "src/serviceZ/src/main.rs").read_text()
    assert not (out / "src/serviceX").exists()


def test_explain_prints_the_plan_and_the_inputs(workspace: Make, capsys: pytest.CaptureFixture[str]) -> None:
    ws = workspace("seed")
    assert main(["prepare", "--explain", "-p", "serviceZ"], cwd=ws.root) == 0
    out = capsys.readouterr().out
    assert "  stub     serviceZ" in out
    assert "  prune    serviceX" in out
    assert "Layer 1, third-party (recipe.deps.json), is rebuilt when any of these change" in out
    assert "Layer 2, local (recipe.json), is rebuilt when any of these change:" in out
    assert "  vendored/  vendored sources" in out
    assert "Feature unification" not in out  # one package: nothing to unify


def test_explain_for_several_packages_says_the_deps_layer_is_cooked_once_per_package_and_why(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed")
    assert main(["prepare", "--explain", "-p", "serviceX", "-p", "serviceZ"], cwd=ws.root) == 0
    several = capsys.readouterr().out
    assert "Feature unification: cargo unifies a third-party crate's features across the packages" in several
    assert "So cook this layer once per package, into one target directory" in several
    assert "`cook -p serviceX --recipe-path recipe.deps.json`, then the same for serviceZ" in several


def test_unknown_package_is_one_error_and_one_hint_with_exit_code_4(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed")
    assert main(["prepare", "-p", "serviceQ"], cwd=ws.root) == 4
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: package `serviceQ` matches no package in this workspace"
    assert err[1].startswith("hint: did you mean serviceZ")
    assert len(err) == 2


def test_a_failing_cargo_metadata_shows_cargos_message_under_ours(
    workspace: Make, fp: FakeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed", register=0)
    fp.register(ws.metadata_argv(), returncode=101, stderr="error: could not execute process `rustc -vV`\n")
    assert main(["prepare"], cwd=ws.root) == 7
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: `cargo metadata` failed with exit code 101")
    assert err[1] == "  | error: could not execute process `rustc -vV`"
    assert err[2].startswith("hint: ")


def test_metadata_of_an_unexpected_shape_is_a_cargo_error(
    workspace: Make, fp: FakeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed", register=0)
    fp.register(ws.metadata_argv(), stdout='{"packages": 3}')
    assert main(["prepare"], cwd=ws.root) == 7
    assert "unexpected shape" in capsys.readouterr().err


def test_no_cargo_project_is_exit_code_3(
    tmp_path: Path, fake_cargo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare"], cwd=tmp_path) == 3
    assert "could not find Cargo.toml" in capsys.readouterr().err


def test_missing_lock_file_hints_at_generate_lockfile(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("seed")
    (ws.root / "Cargo.lock").unlink()
    assert main(["prepare"], cwd=ws.root) == 3
    assert "hint: run `cargo generate-lockfile`" in capsys.readouterr().err


def test_release_with_another_profile_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cook", "--release", "--profile", "dev"], cwd=tmp_path) == 2
    err = capsys.readouterr().err
    assert "error: --release and --profile dev contradict each other" in err


def test_an_unknown_flag_is_a_usage_error_not_an_argparse_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare", "--frobnicate"], cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: unrecognized arguments: --frobnicate")
    assert err[1].startswith("hint: ")


@pytest.mark.parametrize(
    ("raised", "code", "error"),
    [(KeyboardInterrupt, 130, "error: interrupted"), (Terminated, 143, "error: terminated (SIGTERM)")],
)
def test_ctrl_c_and_sigterm_exit_130_and_143_with_one_error_and_one_hint(
    workspace: Make,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    raised: type[BaseException],
    code: int,
    error: str,
) -> None:
    ws = workspace("seed")

    def interrupt(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr("cargo_chefpy.prepare.prepare", interrupt)
    assert main(["prepare"], cwd=ws.root) == code
    assert capsys.readouterr().err.splitlines() == [
        error,
        "hint: run the command again; files are written atomically, so none is half-written",
    ]


def test_main_turns_sigterm_into_an_unwinding_exception_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def during(*args: object, **kwargs: object) -> int:
        seen.append(signal.getsignal(signal.SIGTERM))
        signal.raise_signal(signal.SIGTERM)
        return 0

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("cargo_chefpy.cli._run", during)
        assert main(["cook"]) == 143
    assert seen[0] not in (before, signal.SIG_DFL)
    assert signal.getsignal(signal.SIGTERM) == before


def test_cook_of_a_missing_recipe_is_a_recipe_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cook"], cwd=tmp_path) == 5
    assert "hint: run `cargo chefpy prepare` first" in capsys.readouterr().err


def test_dockerfile_reads_the_workspace_with_one_cargo_metadata(
    workspace: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace(register=1)  # a second cargo metadata would not be answered
    assert main(["dockerfile", "-p", "serviceZ"], cwd=ws.root) == 0
    assert "cargo chefpy cook" in capsys.readouterr().out


# --- every option of every command: repeats, help, the command list ---------------------------------

REPEATABLE = (argparse._AppendAction, argparse._CountAction)
EXITS = (argparse._HelpAction, argparse._VersionAction)


def every_option() -> list[tuple[str, argparse.Action]]:
    """(command, option) for each option of each subcommand, from the parser itself: new flags are covered."""
    return [
        (name, action)
        for name, sub in subcommands(build_parser()).items()
        for action in sub._actions
        if action.option_strings and not isinstance(action, EXITS)
    ]


def twice(action: argparse.Action) -> list[str]:
    flag = action.option_strings[-1]
    if action.nargs == 0:
        return [flag, flag]
    if action.choices:
        first, second = list(action.choices)[:2]
        return [flag, str(first), flag, str(second)]
    return [flag, "1", flag, "2"]


def test_the_parser_has_the_four_commands_and_every_option_is_walked() -> None:
    assert list(subcommands(build_parser())) == ["prepare", "cook", "build", "dockerfile"]
    flags = {(name, a.option_strings[-1]) for name, a in every_option()}
    assert {("dockerfile", "--package"), ("cook", "--release"), ("build", "--jobs")} <= flags


@pytest.mark.parametrize(
    ("command", "action"), every_option(), ids=[f"{c} {a.option_strings[-1]}" for c, a in every_option()]
)
def test_every_option_either_keeps_every_occurrence_or_refuses_a_second_one(
    command: str, action: argparse.Action, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [command, *twice(action)]
    if isinstance(action, REPEATABLE):
        ns = build_parser().parse_args(args)
        expected = 2 if isinstance(action, argparse._CountAction) else ["1", "2"]
        assert getattr(ns, action.dest) == expected
        return
    assert main(args, cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    flag = "/".join(action.option_strings)
    assert err[0].startswith(f"error: {flag} given twice"), err
    assert err[1].startswith("hint: "), err
    assert len(err) == 2, err


@pytest.mark.parametrize(
    ("command", "action"), every_option(), ids=[f"{c} {a.dest}" for c, a in every_option()]
)
def test_every_option_of_every_command_has_help_text(command: str, action: argparse.Action) -> None:
    assert action.help, f"`{PROG} {command} {action.option_strings[-1]}` has no help text"


def test_dockerfile_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dockerfile", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("the package whose binary the image runs", "the builder image", ".dockerignore"):
        assert needle in text


def test_a_repeated_dockerfile_bin_is_refused_with_a_hint_to_pass_it_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dockerfile", "--bin", "a", "--bin", "b"], cwd=tmp_path) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --bin given twice (a, then b); it takes one value",
        "hint: an image runs one binary: pass --bin once (several services: -p A -p B, one image each)",
    ]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["-p", "serviceX", "-p", "serviceY", "--bin", "x"], "error: --bin picks the binary of one image"),
        (["--all-bins", "-p", "serviceX"], "error: --all-bins and -p both choose the services"),
    ],
    ids=["several -p with --bin", "--all-bins with -p"],
)
def test_a_multi_service_dockerfile_refuses_flags_that_choose_one_binary_or_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    assert main(["dockerfile", *argv], cwd=tmp_path) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(error)
    assert lines[1].startswith("hint: ")


def test_repeated_dockerfile_packages_reach_the_generator_in_order() -> None:
    ns = build_parser().parse_args(["dockerfile", "-p", "serviceY", "--package", "serviceX"])
    assert ns.package == ["serviceY", "serviceX"]
    assert ns.all_bins is False


def test_repeated_packages_reach_prepare_and_cook_in_order() -> None:
    ns = build_parser().parse_args(["cook", "-p", "a", "--package", "b", "--bin", "x", "--bin", "y"])
    options = _cargo_options(ns)
    assert options.packages == ("a", "b")
    assert options.bins == ("x", "y")


def test_the_no_command_hint_names_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: no command given"
    for name in subcommands(build_parser()):
        assert f"`{name}`" in err[1] or f"{PROG} {name}`" in err[1], err[1]
    assert err[1] == "hint: run `cargo chefpy prepare`, `cook`, `build` or `dockerfile`; see --help"


@pytest.mark.parametrize("command", ["cook", "build"])
def test_r_is_release_as_in_cargo_build(command: str) -> None:
    options = _cargo_options(build_parser().parse_args([command, "-r", "-p", "serviceZ"]))
    assert options.profile == "release"


@pytest.mark.parametrize("command", ["cook", "build"])
def test_a_cargo_flag_cook_and_build_do_not_take_is_refused_with_a_hint_to_pass_it_after_double_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command, "--release", "--keep-going"], cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: unrecognized arguments: --keep-going"
    assert err[1].startswith("hint: pass --keep-going (and its value, if it takes one) after `--`"), err[1]
    assert len(err) == 2


@pytest.mark.parametrize("flag", ["--test", "--bench", "--example", "--rel"])
def test_cook_and_build_take_no_abbreviated_flag_as_cargo_takes_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    """`--test NAME` is cargo's own flag, not `--tests` shortened (cargo accepts no abbreviation)."""
    assert main(["build", flag, "it"], cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: unrecognized arguments: {flag}"
    assert f"pass {flag} (and its value, if it takes one) after `--`" in err[1]


@pytest.mark.parametrize("command", ["cook", "build"])
def test_all_is_workspace_as_in_cargo_build(command: str) -> None:
    assert _cargo_options(build_parser().parse_args([command, "--all"])).workspace


@pytest.mark.parametrize(
    ("command", "args", "owner"),
    [("build", ["--recipe-path", "recipe.json"], "prepare"), ("cook", ["--include", "proto"], "prepare")],
)
def test_a_flag_of_another_command_is_not_said_to_go_to_cargo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, args: list[str], owner: str
) -> None:
    """cargo takes no --recipe-path either: passing it after `--` would only move the failure."""
    assert main([command, *args], cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"error: unrecognized arguments: {args[0]}",
        f"hint: {args[0]} is a flag of `cargo chefpy {owner}`; see `cargo chefpy {command} --help`",
    ]


def test_a_misspelt_flag_gets_the_flag_it_resembles_in_its_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cook", "--relase"], cwd=tmp_path) == 2
    assert capsys.readouterr().err.splitlines()[1].endswith("(did you mean --release?)")


@pytest.mark.parametrize(
    "args", [["--manifest-path", "ws/Cargo.toml"], ["--", "--manifest-path=ws/Cargo.toml"]]
)
def test_cook_s_manifest_path_hint_says_to_drop_it_not_to_move_it_to_the_other_side_of_double_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """Before `--` the hint said to pass it after `--`, and after `--` to pass it before: cook takes none."""
    assert main(["cook", *args], cwd=tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: --manifest-path")
    assert err[1] == (
        "hint: drop --manifest-path, and run cook in the directory the skeleton goes"
        " (`WORKDIR` in a Dockerfile)"
    )
    assert len(err) == 2
