"""Property tests: the recipe and stamp readers raise only the tool's own error, whatever they are fed.

The normal run uses the small `default` profile (200 examples a test). `make fuzz` selects the `fuzz`
profile (HYPOTHESIS_PROFILE=fuzz): 10 000 examples a test, no deadline.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cargo_chefpy import recipe, stamp
from cargo_chefpy.errors import ChefError, RecipeError, StampError
from cargo_chefpy.recipe import FORMAT, CrateClass, Recipe, RecipeCrate, RecipeFile, Role, VendoredCrate

settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------

JSON = Any

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values: st.SearchStrategy[JSON] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)

# Path-like text: the pieces attackers and accidents use.
path_parts = st.sampled_from(
    ["", ".", "..", "src", "lib.rs", "a b", "\x00", "\\", "/", "C:", "~", "\u00e9", "\ud800", "..."]
)
paths = st.one_of(
    st.text(max_size=30),
    st.lists(path_parts | st.text(max_size=5), max_size=6).map("/".join),
    st.lists(path_parts, max_size=6).map("".join),
)


def sample() -> Recipe:
    return Recipe(
        workspace=".",
        packages=("serviceZ",),
        bins=("serviceZ",),
        crates=(
            RecipeCrate(name="libA", path="src/libA", klass=CrateClass.KEEP, reason="real sources"),
            RecipeCrate(name="serviceZ", path="src/serviceZ", klass=CrateClass.STUB, reason="target"),
        ),
        files=(
            RecipeFile(path="Cargo.toml", data=b"[workspace]\n", executable=False, role=Role.WORKSPACE),
            RecipeFile(path="Cargo.lock", data=b"version = 4\n", executable=False, role=Role.WORKSPACE),
            RecipeFile(
                path="src/libA/src/lib.rs", data=b"pub fn a() {}\r\n", executable=False, role=Role.KEEP
            ),
            RecipeFile(path="src/libA/logo.png", data=b"\x89PNG\x00\xff", executable=False, role=Role.KEEP),
            RecipeFile(path="src/libA/run.sh", data=b"#!/bin/sh\n", executable=True, role=Role.KEEP),
            RecipeFile(
                path="src/serviceZ/src/main.rs", data=b"fn main() {}\n", executable=False, role=Role.STUB
            ),
        ),
        vendored=("vendored",),
        vendored_crates=(
            VendoredCrate(name="fake-log", version="0.4.0"),
            VendoredCrate(name="fake-rc", version="0.5.0-rc.1"),
        ),
    )


VALID = recipe.dumps(sample())


def _locations(value: JSON, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a JSON document, as a key path."""
    yield here
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _locations(child, (*here, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _locations(child, (*here, i))


@st.composite
def mutated_documents(draw: st.DrawFn, valid: bytes = VALID) -> bytes:
    """A valid document with a few of its values replaced, deleted or joined by new keys."""
    document = json.loads(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        locations = list(_locations(document))
        where = draw(st.sampled_from(locations))
        if not where:
            continue
        parent = document
        for key in where[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add", "path"]))
        last = where[-1]
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "path":
            parent[last] = draw(paths)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        else:
            parent.insert(last, draw(json_values))
    return json.dumps(document).encode()


@st.composite
def mutated_bytes(draw: st.DrawFn, valid: bytes = VALID) -> bytes:
    """A valid document with bytes flipped, cut out, or inserted; or truncated."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        if not data:
            break
        i = draw(st.integers(min_value=0, max_value=len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip":
            data[i] = draw(st.integers(min_value=0, max_value=255))
        elif action == "cut":
            del data[i : i + draw(st.integers(min_value=1, max_value=16))]
        elif action == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[i:]
    return bytes(data)


recipe_shaped = st.fixed_dictionaries(
    {
        "format": st.just(FORMAT) | st.text(max_size=5),
        "version": st.integers(min_value=-2, max_value=3) | json_values,
        "workspace": paths | json_values,
        "packages": st.lists(st.text(max_size=8)) | json_values,
        "bins": st.lists(st.text(max_size=8)) | json_values,
        "crates": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.text(max_size=8) | json_values,
                    "path": paths | json_values,
                    "class": st.sampled_from(["stub", "keep", "external", "prune"]) | json_values,
                    "reason": st.text(max_size=8),
                }
            )
            | json_values,
            max_size=4,
        )
        | json_values,
        "vendored": st.lists(paths, max_size=3) | json_values,
        "vendored_crates": st.lists(
            st.fixed_dictionaries({"name": paths | json_values, "version": paths | json_values})
            | json_values,
            max_size=3,
        )
        | json_values,
        "files": st.lists(
            st.fixed_dictionaries(
                {"path": paths | json_values, "role": st.sampled_from([r.value for r in Role]) | json_values},
                optional={
                    "executable": st.booleans() | json_values,
                    "text": st.text(max_size=20) | json_values,
                    "base64": st.text(alphabet="ABCDab01+/=*", max_size=12) | json_values,
                },
            )
            | json_values,
            max_size=5,
        )
        | json_values,
    }
).map(lambda d: json.dumps(d).encode())

recipe_inputs = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    recipe_shaped,
    mutated_documents(),
    mutated_bytes(),
)

# --------------------------------------------------------------------------------------------------
# recipe.loads and recipe.check_path
# --------------------------------------------------------------------------------------------------


def assert_clean(exc: ChefError, exit_code: int) -> None:
    """The error the CLI prints: its exit code, a message and a hint."""
    assert exc.exit_code == exit_code
    assert exc.message
    assert exc.hint


def _stays_inside(path: str) -> bool:
    """Joined to a root, the path names the root or something under it (no NUL)."""
    root = "/cook"
    joined = posixpath.normpath(posixpath.join(root, path))
    return (
        "\x00" not in path and not path.startswith("/") and (joined == root or joined.startswith(root + "/"))
    )


def _is_safe(path: str) -> bool:
    if path == ".":
        return True
    root = "/cook"
    joined = posixpath.normpath(posixpath.join(root, path))
    return (
        not path.startswith("/")
        and "\x00" not in path
        and "\\" not in path
        and ".." not in path.split("/")
        and joined.startswith(root + "/")
    )


@given(recipe_inputs)
def test_loads_raises_only_recipe_error_and_what_it_accepts_is_safe_and_round_trips(data: bytes) -> None:
    try:
        loaded = recipe.loads(data)
    except RecipeError as exc:
        assert_clean(exc, 5)
        return
    for path in (loaded.workspace, *(f.path for f in loaded.files), *(c.path for c in loaded.crates)):
        assert _is_safe(path), path
    for path in loaded.vendored:
        assert _is_safe(path), path
    for crate in loaded.vendored_crates:
        for name in (crate.name, f"{crate.name}-{crate.version}"):
            assert _is_safe(name), name
            assert "/" not in name, name
            assert name != ".", name
    assert len({f.path for f in loaded.files}) == len(loaded.files)
    again = recipe.dumps(loaded)
    assert recipe.dumps(recipe.loads(again)) == again


@given(st.one_of(paths, json_values))
def test_check_path_raises_only_recipe_error_and_returns_only_safe_paths(path: object) -> None:
    try:
        checked = recipe.check_path(path, "path")
    except RecipeError as exc:
        assert_clean(exc, 5)
        return
    assert checked == path
    assert _is_safe(checked)
    checked.encode("utf-8")


def test_the_mutation_strategies_start_from_a_valid_recipe() -> None:
    assert recipe.dumps(recipe.loads(VALID)) == VALID


# --------------------------------------------------------------------------------------------------
# stamp.read
# --------------------------------------------------------------------------------------------------


def valid_stamp() -> bytes:
    return stamp.dumps(
        stamp.Stamp(
            recipe="0" * 64,
            workspace=".",
            options={"profile": "release", "features": []},
            packages=("serviceZ",),
            files={"src/libA/src/lib.rs": "1" * 64},
            vendored={"vendored/fake-log/src/lib.rs": "2" * 64},
            vendored_dirs=("vendored",),
            kept_crates=1,
            external_crates=0,
        )
    )


VALID_STAMP = valid_stamp()

stamp_inputs = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_documents(VALID_STAMP),
    mutated_bytes(VALID_STAMP),
)


@pytest.fixture(scope="module")
def stamp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stamp")


@given(data=stamp_inputs)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_stamp_read_raises_only_stamp_error(stamp_dir: Path, data: bytes) -> None:
    (stamp_dir / stamp.STAMP_NAME).write_bytes(data)
    try:
        st_ = stamp.read(stamp_dir)
    except StampError as exc:
        assert_clean(exc, 9)
        return
    assert st_ is not None
    for path in (*st_.files, *st_.vendored, st_.workspace):
        assert _stays_inside(path), path


def test_the_stamp_strategies_start_from_a_valid_stamp(stamp_dir: Path) -> None:
    (stamp_dir / stamp.STAMP_NAME).write_bytes(VALID_STAMP)
    assert stamp.read(stamp_dir) is not None


def test_a_missing_stamp_reads_as_none(tmp_path: Path) -> None:
    assert stamp.read(tmp_path) is None


# --------------------------------------------------------------------------------------------------
# The stub manifest writer: tomlkit's bytes, or tomlkit itself
# --------------------------------------------------------------------------------------------------

# Anything TOML can hold, for the fallback; and the plain documents stubs are made of, which must take
# the fast path.
toml_keys = st.one_of(
    st.sampled_from(["name", "version", "path", "features", "default", "serde", "a-b", "x_1", "cfg(unix)"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
)
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
    st.text(st.sampled_from('ab./-_ "\\\t'), max_size=6),
    st.floats(allow_nan=False, allow_infinity=False),
)
toml_values = st.one_of(toml_scalars, st.lists(toml_scalars, max_size=3))
toml_tables = st.recursive(
    st.dictionaries(toml_keys, toml_values, max_size=4),
    lambda inner: st.dictionaries(
        toml_keys, st.one_of(toml_values, inner, st.lists(inner, max_size=2)), max_size=4
    ),
    max_leaves=12,
)
toml_documents = st.dictionaries(
    toml_keys,
    st.one_of(toml_tables, st.lists(toml_tables, min_size=1, max_size=2), toml_values),
    max_size=5,
)
plain_keys = st.one_of(
    st.sampled_from(["name", "version", "path", "features", "default", "dependencies", "target", "lib"]),
    st.sampled_from(["a-b", "x_1", "cfg(unix)", "cfg(target_os = 'linux')", "a b", "0"]),
)
plain_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(st.sampled_from("abz09./-_ ()=:'~"), max_size=8),
)
plain_values = st.one_of(plain_scalars, st.lists(plain_scalars, max_size=3))
plain_tables = st.recursive(
    st.dictionaries(plain_keys, plain_values, max_size=4),
    lambda inner: st.dictionaries(plain_keys, st.one_of(plain_values, inner), max_size=4),
    max_leaves=16,
)
plain_documents = st.tuples(
    st.dictionaries(plain_keys, plain_values, max_size=2),
    st.dictionaries(
        plain_keys,
        st.one_of(plain_tables, st.lists(st.dictionaries(plain_keys, plain_values, min_size=1), min_size=1)),
        max_size=5,
    ),
).map(lambda parts: {**parts[0], **{k: v for k, v in parts[1].items() if k not in parts[0]}})


@given(plain_documents)
def test_dumps_plain_writes_the_plain_documents_as_tomlkit_does(doc: dict[str, Any]) -> None:
    import tomlkit

    from cargo_chefpy.manifest import dumps_plain

    assert dumps_plain(doc) == tomlkit.dumps(doc)


@given(toml_documents)
def test_dumps_plain_writes_what_tomlkit_writes_or_leaves_it_to_tomlkit(doc: dict[str, Any]) -> None:
    import tomlkit

    from cargo_chefpy.manifest import _NotPlain, dumps_plain

    try:
        text = dumps_plain(doc)
    except _NotPlain:
        return
    assert text == tomlkit.dumps(doc)
