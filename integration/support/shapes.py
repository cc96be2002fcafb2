"""Workspace shapes for the integration matrix (integration/test_shapes.py).

Each `Shape` is a tiny workspace written as literal files, the flags a Dockerfile would pass, the edits a
developer makes after the first cook, and what the final stage must then show: which crates compile, which
binaries exist and what each prints. Every shape shares one small vendored registry (`REGISTRY`) and takes
only the crates it names from it, so cook compiles little.

Conventions of the Rust sources:
- a binary prints `hello from <bin> | <parts>`; an edit turns `hello from <bin>` into `edited <bin>`;
- a library has `pub const GREETING: &str = "<label> v1"`; an edit of a kept library turns `v1` into `v2`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from integration.support.workspaces import CARGO_CONFIG, FakeCrate, run_cargo, set_all_mtimes, write_registry

OLD: Final = 1_000_000_000.0
"""Every file of a shape starts with this mtime (2001), older than any build output: the checkout that was
made before the cook, which the preserved-mtimes mode then copies as is."""

BOM: Final = "\ufeff"

_FAKE_BUILD_RS: Final = """\
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(fake_build_ran)");
    println!("cargo:rustc-cfg=fake_build_ran");
}
"""

_FAKE_BUILD_LIB: Final = """\
//! fake-build 1.0.0: a vendored crate whose build script prints rerun-if-changed, like serde or libc.

#[cfg(fake_build_ran)]
pub fn fake_build() -> &'static str {
    "fake-build 1.0.0 (script ran)"
}
"""

REGISTRY: Final = (
    FakeCrate(name="fake-build", version="1.0.0", lib_rs=_FAKE_BUILD_LIB, build_rs=_FAKE_BUILD_RS),
    FakeCrate(name="fake-extra", version="0.1.0"),
    FakeCrate(name="fake-log", version="0.4.0"),
    FakeCrate(name="fake-rc", version="0.5.0-rc.1"),
    FakeCrate(
        name="fake-uses-log",
        version="0.1.0",
        deps={"fake-log": "0.4"},
        lib_rs="pub fn fake_uses_log() -> &'static str {\n    fake_log::fake_log()\n}\n",
    ),
)
"""The one fake crates.io every shape vendors from (a shape takes the crates it names)."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace `old` by `new` in the file at `path` (relative to the workspace root; may go to `../`)."""

    path: str
    old: str
    new: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    name: str
    files: Mapping[str, str]
    """Workspace-relative path -> text (written as UTF-8; a BOM is the text's first character)."""
    outside: Mapping[str, str] = field(default_factory=dict)
    """Files of the sibling directory `../outside-<root name>` (path dependencies outside the workspace)."""
    vendored: tuple[str, ...] = ("fake-log",)
    """Names of the REGISTRY crates in `vendored/` (every version of each)."""
    prepare_args: tuple[str, ...]
    cargo_args: tuple[str, ...]
    """The flags of both cook and build."""
    host_target: bool = False
    """Cook and build also get `--target <host triple>`; binaries are under target/<triple>/<profile>."""
    profile_dir: str = "release"
    edits: tuple[Edit, ...]
    binaries: Mapping[str, str]
    """Every real binary the build must leave -> a text its output must contain after the edits."""
    compiled: frozenset[str]
    """Exactly the crates the final stage compiles."""
    reuses_cook: bool
    """Whether the edits leave the recipe, so the cooked layer, unchanged."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        object.__setattr__(self, "outside", MappingProxyType(dict(self.outside)))
        object.__setattr__(self, "binaries", MappingProxyType(dict(self.binaries)))


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("host: "))


def _write(directory: Path, files: Mapping[str, str]) -> None:
    for relpath, text in sorted(files.items()):
        path = directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def write_shape(shape: Shape, root: Path) -> None:
    """Write `shape` at `root` (and its outside files beside it), locked, every mtime OLD."""
    _write(root, {".cargo/config.toml": CARGO_CONFIG, **shape.files})
    write_registry(root / "vendored", [crate for crate in REGISTRY if crate.name in shape.vendored])
    outside = root.parent / f"outside-{root.name}"
    _write(outside, shape.outside)
    run_cargo(["generate-lockfile", "--offline"], root)
    set_all_mtimes(root, OLD)
    if shape.outside:
        set_all_mtimes(outside, OLD)


def apply_edits(shape: Shape, root: Path) -> None:
    """Make the shape's edits (new mtimes, as an editor gives); relock when a manifest changed, as the
    developer's own cargo would, so that the committed Cargo.lock matches."""
    for edit in shape.edits:
        path = root / edit.path
        text = path.read_text(encoding="utf-8")
        assert edit.old in text, f"{edit.old!r} not in {path}"
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    if any(os.path.basename(edit.path) == "Cargo.toml" for edit in shape.edits):
        run_cargo(["generate-lockfile", "--offline"], root)


# ----------------------------------------------------------------------------------------------------
# Source builders
# ----------------------------------------------------------------------------------------------------


def bin_rs(bin_name: str, parts: Sequence[str] = (), head: str = "") -> str:
    """A main that prints `hello from <bin_name> | <part> | ...`; `parts` are Rust expressions (Display)."""
    items = ", ".join(f'format!("{{}}", {part})' for part in parts)
    return (
        f"{head}"
        f'const MESSAGE: &str = "hello from {bin_name}";\n'
        "\n"
        "fn main() {\n"
        f"    let parts: Vec<String> = vec![{items}];\n"
        '    println!("{} | {}", MESSAGE, parts.join(" | "));\n'
        "}\n"
    )


def lib_rs(label: str, body: str = "") -> str:
    """A library whose GREETING is `<label> v1`."""
    return f'pub const GREETING: &str = "{label} v1";\n{body}'


def package(name: str, version: str = "0.1.0", *, deps: str = "", extra: str = "", head: str = "") -> str:
    """A package manifest; `deps` are lines of [dependencies], `extra` more tables after them."""
    text = f'{head}[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
    if deps:
        text += f"\n[dependencies]\n{deps}"
    if extra:
        text += f"\n{extra}"
    return text


def workspace(*members: str, extra: str = "") -> str:
    listed = ", ".join(f'"{m}"' for m in members)
    text = f'[workspace]\nresolver = "2"\nmembers = [{listed}]\n'
    return text + (f"\n{extra}" if extra else "")


def _edit_bin(path: str, bin_name: str) -> Edit:
    return Edit(path, f"hello from {bin_name}", f"edited {bin_name}")


def _edit_lib(path: str, label: str) -> Edit:
    return Edit(path, f'"{label} v1"', f'"{label} v2"')


def _simple(
    name: str,
    *,
    files: Mapping[str, str],
    package_name: str = "app",
    bin_name: str = "app",
    main: str = "app/src/main.rs",
    extra_edits: tuple[Edit, ...] = (),
    expect: Sequence[str] = (),
    reuses_cook: bool | None = None,
    **kw: object,
) -> Shape:
    """A shape whose target is `package_name` with the one binary `bin_name` at `main`, built with
    `--release -p <package_name>` unless `cargo_args` says otherwise."""
    args: dict[str, object] = {
        "prepare_args": ("-p", package_name),
        "cargo_args": ("--release", "-p", package_name),
    }
    args.update(kw)
    return Shape(
        name=name,
        files=files,
        edits=(_edit_bin(main, bin_name), *extra_edits),
        binaries={bin_name: " | ".join([f"edited {bin_name}", *expect])},
        compiled=frozenset({package_name}),
        reuses_cook=not extra_edits if reuses_cook is None else reuses_cook,
        **args,  # type: ignore[arg-type]
    )


# ----------------------------------------------------------------------------------------------------
# The shapes
# ----------------------------------------------------------------------------------------------------


def _ripgrep_like() -> Shape:
    """ripgrep 13: the root package's only bin `rg` at crates/core/main.rs, no src/ at all."""
    root = package(
        "ripgrep",
        "13.0.0",
        deps='grep = { path = "crates/grep", version = "0.2.0" }\nfake-log = "0.4"\n',
        extra=(
            '[[bin]]\nname = "rg"\npath = "crates/core/main.rs"\n\n'
            '[workspace]\nmembers = ["crates/globset", "crates/grep"]\n'
        ),
    )
    files = {
        "Cargo.toml": root,
        "crates/core/main.rs": bin_rs("rg", ["app::describe()", "fake_log::fake_log()"], "mod app;\n\n"),
        "crates/core/app.rs": "pub fn describe() -> String {\n    grep::search()\n}\n",
        "crates/grep/Cargo.toml": package("grep", "0.2.0", deps='globset = { path = "../globset" }\n'),
        "crates/grep/src/lib.rs": lib_rs(
            "grep", 'pub fn search() -> String {\n    format!("{} {}", GREETING, globset::GREETING)\n}\n'
        ),
        "crates/globset/Cargo.toml": package("globset", "0.4.8"),
        "crates/globset/src/lib.rs": lib_rs("globset"),
    }
    return Shape(
        name="bin-path-without-src",
        files=files,
        prepare_args=("-p", "ripgrep"),
        cargo_args=("--release",),
        edits=(_edit_bin("crates/core/main.rs", "rg"), _edit_lib("crates/globset/src/lib.rs", "globset")),
        binaries={"rg": "edited rg | grep v1 globset v2 | fake-log 0.4.0"},
        compiled=frozenset({"ripgrep"}),
        reuses_cook=False,
    )


def _auto_bins() -> Shape:
    """src/main.rs, src/bin/*.rs and a src/bin/<dir>/main.rs, all found by cargo's autobins."""
    files = {
        "Cargo.toml": workspace("tools", "common"),
        "common/Cargo.toml": package("common"),
        "common/src/lib.rs": lib_rs("common"),
        "tools/Cargo.toml": package("tools", deps='common = { path = "../common" }\n'),
        "tools/src/main.rs": bin_rs("tools", ["common::GREETING"]),
        "tools/src/bin/alpha.rs": bin_rs("alpha", ["common::GREETING"]),
        "tools/src/bin/beta.rs": bin_rs("beta"),
        "tools/src/bin/gamma/main.rs": bin_rs("gamma", ["util::NAME"], "mod util;\n\n"),
        "tools/src/bin/gamma/util.rs": 'pub const NAME: &str = "gamma util";\n',
    }
    return Shape(
        name="auto-discovered-bins",
        files=files,
        prepare_args=("-p", "tools"),
        cargo_args=("--release", "-p", "tools"),
        edits=(_edit_bin("tools/src/bin/alpha.rs", "alpha"),),
        binaries={
            "tools": "hello from tools | common v1",
            "alpha": "edited alpha | common v1",
            "beta": "hello from beta",
            "gamma": "hello from gamma | gamma util",
        },
        compiled=frozenset({"tools"}),
        reuses_cook=True,
    )


def _root_package_stubbed() -> Shape:
    files = {
        "Cargo.toml": package("server", deps='core = { path = "libs/core" }\n', extra=workspace("libs/core")),
        "src/main.rs": bin_rs("server", ["core::GREETING"]),
        "libs/core/Cargo.toml": package("core"),
        "libs/core/src/lib.rs": lib_rs("core"),
    }
    return _simple(
        "root-package-target",
        files=files,
        package_name="server",
        bin_name="server",
        main="src/main.rs",
        extra_edits=(_edit_lib("libs/core/src/lib.rs", "core"),),
        expect=["core v2"],
    )


def _root_package_kept() -> Shape:
    """The root package is a kept library (with `package.include`); docs and a stale recipe.json beside it."""
    root = package(
        "corelib",
        extra=workspace("apps/cli"),
        head="",
    ).replace('edition = "2021"\n', 'edition = "2021"\ninclude = ["src/**", "Cargo.toml"]\n')
    files = {
        "Cargo.toml": root,
        "src/lib.rs": lib_rs("corelib"),
        "README.md": "# corelib\n\nDocs v1.\n",
        "docs/guide.md": "A guide.\n",
        "recipe.json": '{"note": "left over from a local prepare"}\n',
        "apps/cli/Cargo.toml": package("cli", deps='corelib = { path = "../.." }\n'),
        "apps/cli/src/main.rs": bin_rs("cli", ["corelib::GREETING"]),
    }
    return _simple(
        "root-package-kept-library",
        files=files,
        package_name="cli",
        bin_name="cli",
        main="apps/cli/src/main.rs",
        extra_edits=(Edit("README.md", "Docs v1.", "Docs v2."),),
        expect=["corelib v1"],
        reuses_cook=True,
    )


def _prerelease_vendored() -> Shape:
    files = {
        "Cargo.toml": workspace("app", "lib"),
        "lib/Cargo.toml": package("lib", deps='rc = { package = "fake-rc", version = "=0.5.0-rc.1" }\n'),
        "lib/src/lib.rs": lib_rs("lib", "pub fn rc() -> &'static str {\n    rc::fake_rc()\n}\n"),
        "app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\nfake-rc = "0.5.0-rc.1"\n'),
        "app/src/main.rs": bin_rs("app", ["lib::rc()", "fake_rc::fake_rc()"]),
    }
    return _simple(
        "prerelease-vendored-crate",
        files=files,
        vendored=("fake-rc",),
        expect=["fake-rc 0.5.0-rc.1", "fake-rc 0.5.0-rc.1"],
    )


def _toml_1_1() -> Shape:
    """Newlines and trailing commas inside inline tables (TOML 1.1, read by cargo 1.95)."""
    files = {
        "Cargo.toml": workspace(
            "app", "lib", extra='[workspace.dependencies]\nfake-log = {\n    version = "0.4",\n}\n'
        ),
        "lib/Cargo.toml": package("lib", deps="fake-log = { workspace = true, }\n"),
        "lib/src/lib.rs": lib_rs("lib"),
        "app/Cargo.toml": package(
            "app",
            deps='lib = {\n    path = "../lib",\n    version = "0.1.0",\n}\nfake-log.workspace = true\n',
        ),
        "app/src/main.rs": bin_rs("app", ["lib::GREETING", "fake_log::fake_log()"]),
    }
    return _simple(
        "toml-1.1-manifests",
        files=files,
        extra_edits=(_edit_lib("lib/src/lib.rs", "lib"),),
        expect=["lib v2", "fake-log 0.4.0"],
    )


def _bom() -> Shape:
    files = {
        "Cargo.toml": BOM + workspace("app", "lib"),
        "lib/Cargo.toml": BOM + package("lib"),
        "lib/src/lib.rs": lib_rs("lib"),
        "app/Cargo.toml": BOM + package("app", deps='lib = { path = "../lib" }\n'),
        "app/src/main.rs": bin_rs("app", ["lib::GREETING"]),
    }
    return _simple("utf8-bom-manifests", files=files, expect=["lib v1"])


def _build_script_outside() -> Shape:
    """A kept crate's build.rs reads ../../proto/*.proto: carried with `prepare --include proto`."""
    build_rs = (
        "fn main() {\n"
        '    println!("cargo:rerun-if-changed=build.rs");\n'
        '    println!("cargo:rerun-if-changed=../../proto/greeting.proto");\n'
        '    let proto = std::fs::read_to_string("../../proto/greeting.proto").expect("greeting.proto");\n'
        '    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("generated.rs");\n'
        '    let text = format!("pub const PROTO: &str = {:?};\\n", proto.trim());\n'
        '    std::fs::write(out, text).expect("generated.rs");\n'
        "}\n"
    )
    files = {
        "Cargo.toml": workspace("crates/app", "crates/proto-types"),
        "proto/greeting.proto": "proto v1\n",
        "crates/proto-types/Cargo.toml": package("proto-types"),
        "crates/proto-types/build.rs": build_rs,
        "crates/proto-types/src/lib.rs": 'include!(concat!(env!("OUT_DIR"), "/generated.rs"));\n',
        "crates/app/Cargo.toml": package("app", deps='proto-types = { path = "../proto-types" }\n'),
        "crates/app/src/main.rs": bin_rs("app", ["proto_types::PROTO"]),
    }
    return _simple(
        "build-script-reads-outside-package",
        files=files,
        main="crates/app/src/main.rs",
        prepare_args=("-p", "app", "--include", "proto"),
        extra_edits=(Edit("proto/greeting.proto", "proto v1", "proto v2"),),
        expect=["proto v2"],
    )


def _include_str_outside() -> Shape:
    """A kept crate include_str!s ../../../templates/banner.txt: carried by the workspace's own setting."""
    files = {
        "Cargo.toml": workspace(
            "crates/app",
            "crates/banner",
            extra='[workspace.metadata.chefpy]\ninclude = ["templates/banner.txt"]\n',
        ),
        "templates/banner.txt": "banner v1",
        "crates/banner/Cargo.toml": package("banner"),
        "crates/banner/src/lib.rs": (
            'pub const BANNER: &str = include_str!("../../../templates/banner.txt");\n'
        ),
        "crates/app/Cargo.toml": package("app", deps='banner = { path = "../banner" }\n'),
        "crates/app/src/main.rs": bin_rs("app", ["banner::BANNER"]),
    }
    return _simple(
        "include-str-reads-outside-package",
        files=files,
        main="crates/app/src/main.rs",
        extra_edits=(Edit("templates/banner.txt", "banner v1", "banner v2"),),
        expect=["banner v2"],
    )


def _workspace_inheritance() -> Shape:
    """[workspace.package] and [workspace.dependencies]; the version bump reaches only the stubbed app."""
    root = workspace(
        "crates/app",
        "crates/shared",
        extra=(
            '[workspace.package]\nversion = "0.3.0"\nedition = "2021"\nlicense = "MIT"\n'
            'authors = ["A. Developer"]\nrust-version = "1.70"\n\n'
            '[workspace.dependencies]\nfake-log = "0.4"\n'
            'shared = { path = "crates/shared", version = "1.0.0" }\n\n'
            '[workspace.lints.rust]\nunsafe_code = "forbid"\n'
        ),
    )
    files = {
        "Cargo.toml": root,
        "crates/shared/Cargo.toml": (
            '[package]\nname = "shared"\nversion = "1.0.0"\nedition.workspace = true\n'
            "license.workspace = true\nauthors.workspace = true\n\n"
            "[dependencies]\nfake-log.workspace = true\n\n[lints]\nworkspace = true\n"
        ),
        "crates/shared/src/lib.rs": lib_rs("shared"),
        "crates/app/Cargo.toml": (
            '[package]\nname = "app"\nversion.workspace = true\nedition.workspace = true\n'
            "license.workspace = true\nrust-version.workspace = true\n\n"
            "[dependencies]\nshared = { workspace = true }\n"
            "fake-log = { workspace = true, features = [] }\n\n"
            "[lints]\nworkspace = true\n"
        ),
        "crates/app/src/main.rs": bin_rs(
            "app", ['env!("CARGO_PKG_VERSION")', "shared::GREETING", "fake_log::fake_log()"]
        ),
    }
    return _simple(
        "workspace-package-inheritance",
        files=files,
        main="crates/app/src/main.rs",
        extra_edits=(Edit("Cargo.toml", 'version = "0.3.0"', 'version = "0.4.0"'),),
        expect=["0.4.0", "shared v1"],
        reuses_cook=True,
    )


def _custom_profile() -> Shape:
    files = {
        "Cargo.toml": workspace(
            "app", "lib", extra='[profile.ci]\ninherits = "release"\nopt-level = 1\ndebug = false\n'
        ),
        "lib/Cargo.toml": package("lib", deps='fake-log = "0.4"\n'),
        "lib/src/lib.rs": lib_rs("lib"),
        "app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\n'),
        "app/src/main.rs": bin_rs("app", ["lib::GREETING"]),
    }
    return _simple(
        "custom-profile",
        files=files,
        cargo_args=("--profile", "ci", "-p", "app"),
        profile_dir="ci",
        expect=["lib v1"],
    )


def _host_target() -> Shape:
    """--target <host>: host artifacts (build scripts) and target artifacts in separate directories."""
    files = {
        "Cargo.toml": workspace("app", "lib"),
        "lib/Cargo.toml": package("lib", deps='fake-build = "1.0"\n'),
        "lib/src/lib.rs": lib_rs(
            "lib", "pub fn build() -> &'static str {\n    fake_build::fake_build()\n}\n"
        ),
        "app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\n'),
        "app/src/main.rs": bin_rs("app", ["lib::GREETING", "lib::build()"]),
    }
    return _simple(
        "target-host-triple",
        files=files,
        vendored=("fake-build",),
        host_target=True,
        extra_edits=(_edit_lib("lib/src/lib.rs", "lib"),),
        expect=["lib v2", "fake-build 1.0.0 (script ran)"],
    )


def _features() -> Shape:
    """An optional vendored dependency and a kept crate's feature, both behind the app's `extra` feature."""
    app = package(
        "app",
        deps='helper = { path = "../helper" }\nfake-extra = { version = "0.1", optional = true }\n',
        extra=(
            '[features]\ndefault = ["color"]\ncolor = []\n'
            'extra = ["dep:fake-extra", "helper/loud"]\ngate = []\n\n'
            '[[bin]]\nname = "app"\npath = "src/main.rs"\n\n'
            '[[bin]]\nname = "app-extra"\npath = "src/bin/app-extra.rs"\nrequired-features = ["extra"]\n\n'
            '[[bin]]\nname = "gated"\npath = "src/bin/gated.rs"\nrequired-features = ["gate"]\n'
        ),
    )
    helper_body = (
        '#[cfg(feature = "loud")]\npub fn volume() -> &\'static str {\n    "LOUD"\n}\n'
        '#[cfg(not(feature = "loud"))]\npub fn volume() -> &\'static str {\n    "quiet"\n}\n'
    )
    main_head = (
        '#[cfg(feature = "extra")]\nfn extra() -> &\'static str {\n    fake_extra::fake_extra()\n}\n'
        '#[cfg(not(feature = "extra"))]\nfn extra() -> &\'static str {\n    "no extra"\n}\n\n'
    )
    files = {
        "Cargo.toml": workspace("app", "helper"),
        "helper/Cargo.toml": package("helper", extra="[features]\nloud = []\n"),
        "helper/src/lib.rs": lib_rs("helper", helper_body),
        "app/Cargo.toml": app,
        "app/src/main.rs": bin_rs("app", ["helper::volume()", "extra()"], main_head),
        "app/src/bin/app-extra.rs": bin_rs("app-extra", ["fake_extra::fake_extra()"]),
        "app/src/bin/gated.rs": bin_rs("gated"),
    }
    return Shape(
        name="features-and-required-features",
        files=files,
        vendored=("fake-extra",),
        prepare_args=("-p", "app"),
        cargo_args=("--release", "-p", "app", "--features", "extra"),
        edits=(_edit_bin("app/src/main.rs", "app"),),
        binaries={
            "app": "edited app | LOUD | fake-extra 0.1.0",
            "app-extra": "hello from app-extra | fake-extra",
        },
        compiled=frozenset({"app"}),
        reuses_cook=True,
    )


_MACRO_RS: Final = """\
use proc_macro::{Literal, TokenStream, TokenTree};

#[proc_macro]
pub fn shout(input: TokenStream) -> TokenStream {
    let text = input.to_string().trim_matches('"').to_uppercase();
    TokenTree::Literal(Literal::string(&text)).into()
}
"""


def _proc_macro_member() -> Shape:
    files = {
        "Cargo.toml": workspace("app", "lib", "macros"),
        "macros/Cargo.toml": package("macros", extra="[lib]\nproc-macro = true\n"),
        "macros/src/lib.rs": _MACRO_RS,
        "lib/Cargo.toml": package("lib", deps='macros = { path = "../macros" }\n'),
        "lib/src/lib.rs": lib_rs("lib", 'pub fn loud() -> &\'static str {\n    macros::shout!("lib")\n}\n'),
        "app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\nmacros = { path = "../macros" }\n'),
        "app/src/main.rs": bin_rs("app", ["lib::loud()", 'macros::shout!("app")']),
    }
    return _simple("proc-macro-member", files=files, expect=["LIB", "APP"])


def _renamed_deps() -> Shape:
    files = {
        "Cargo.toml": workspace("app", "lib-a"),
        "lib-a/Cargo.toml": package("lib-a"),
        "lib-a/src/lib.rs": lib_rs("lib-a"),
        "app/Cargo.toml": package(
            "app",
            deps=(
                'alpha = { path = "../lib-a", package = "lib-a" }\n'
                'logging = { package = "fake-log", version = "0.4" }\n'
            ),
        ),
        "app/src/main.rs": bin_rs("app", ["alpha::GREETING", "logging::fake_log()"]),
    }
    return _simple(
        "renamed-dependencies",
        files=files,
        extra_edits=(_edit_lib("lib-a/src/lib.rs", "lib-a"),),
        expect=["lib-a v2", "fake-log 0.4.0"],
    )


def _hyphenated() -> Shape:
    """Package `my-app` (lib my_app + bin my-app) on `my-utils`, whose lib is renamed `utils_core`."""
    files = {
        "Cargo.toml": workspace("crates/my-app", "crates/my-utils"),
        "crates/my-utils/Cargo.toml": package("my-utils", extra='[lib]\nname = "utils_core"\n'),
        "crates/my-utils/src/lib.rs": lib_rs("my-utils"),
        "crates/my-app/Cargo.toml": package("my-app", deps='my-utils = { path = "../my-utils" }\n'),
        "crates/my-app/src/lib.rs": (
            'pub fn label() -> String {\n    format!("app lib v1 {}", utils_core::GREETING)\n}\n'
        ),
        "crates/my-app/src/main.rs": bin_rs("my-app", ["my_app::label()"]),
    }
    return Shape(
        name="hyphenated-package-lib-and-bin",
        files=files,
        prepare_args=("-p", "my-app"),
        cargo_args=("--release", "-p", "my-app"),
        edits=(Edit("crates/my-app/src/lib.rs", "app lib v1", "app lib v2"),),
        binaries={"my-app": "hello from my-app | app lib v2 my-utils v1"},
        compiled=frozenset({"my-app"}),
        reuses_cook=True,
    )


def _target_specific() -> Shape:
    app = package(
        "app",
        extra=(
            "[target.'cfg(unix)'.dependencies]\n"
            'unix-helper = { path = "../unix-helper" }\n\n'
            "[target.'cfg(windows)'.dependencies]\n"
            'win-helper = { path = "../win-helper" }\n\n'
            "[target.'cfg(target_os = \"none\")'.dependencies]\n"
            'fake-extra = "0.1"\n'
        ),
    )
    files = {
        "Cargo.toml": workspace("app", "unix-helper", "win-helper"),
        "unix-helper/Cargo.toml": package("unix-helper"),
        "unix-helper/src/lib.rs": lib_rs("unix-helper"),
        "win-helper/Cargo.toml": package("win-helper"),
        "win-helper/src/lib.rs": lib_rs("win-helper"),
        "app/Cargo.toml": app,
        "app/src/main.rs": bin_rs("app", ["unix_helper::GREETING"]),
    }
    return _simple(
        "target-specific-dependencies",
        files=files,
        vendored=("fake-extra",),
        extra_edits=(_edit_lib("unix-helper/src/lib.rs", "unix-helper"),),
        expect=["unix-helper v2"],
    )


def _dev_only() -> Shape:
    app = package(
        "app",
        deps='fake-log = "0.4"\n',
        extra='[dev-dependencies]\ntest-utils = { path = "../test-utils" }\nfake-extra = "0.1"\n',
    )
    test_rs = '#[test]\nfn uses_test_utils() {\n    assert_eq!(test_utils::GREETING, "test-utils v1");\n}\n'
    files = {
        "Cargo.toml": workspace("app", "test-utils"),
        "test-utils/Cargo.toml": package("test-utils"),
        "test-utils/src/lib.rs": lib_rs("test-utils"),
        "app/Cargo.toml": app,
        "app/src/main.rs": bin_rs("app", ["fake_log::fake_log()"]),
        "app/tests/smoke.rs": test_rs,
    }
    return _simple(
        "dev-dependency-only", files=files, vendored=("fake-log", "fake-extra"), expect=["fake-log 0.4.0"]
    )


def _nested_members() -> Shape:
    files = {
        "Cargo.toml": workspace("libs/core", "libs/core/extra", "services/api"),
        "libs/core/Cargo.toml": package("core"),
        "libs/core/src/lib.rs": lib_rs("core"),
        "libs/core/extra/Cargo.toml": package("core-extra", deps='core = { path = ".." }\n'),
        "libs/core/extra/src/lib.rs": lib_rs("core-extra"),
        "services/api/Cargo.toml": package(
            "api",
            deps='core = { path = "../../libs/core" }\ncore-extra = { path = "../../libs/core/extra" }\n',
        ),
        "services/api/src/main.rs": bin_rs("api", ["core::GREETING", "core_extra::GREETING"]),
    }
    return _simple(
        "nested-members",
        files=files,
        package_name="api",
        bin_name="api",
        main="services/api/src/main.rs",
        extra_edits=(_edit_lib("libs/core/extra/src/lib.rs", "core-extra"),),
        expect=["core v1", "core-extra v2"],
    )


def _default_members() -> Shape:
    root = workspace("apps/main", "apps/other", "libs/base").replace(
        "members = [", 'default-members = ["apps/main"]\nmembers = ['
    )
    files = {
        "Cargo.toml": root,
        "libs/base/Cargo.toml": package("base"),
        "libs/base/src/lib.rs": lib_rs("base"),
        "apps/main/Cargo.toml": package("main-app", deps='base = { path = "../../libs/base" }\n'),
        "apps/main/src/main.rs": bin_rs("main-app", ["base::GREETING"]),
        "apps/other/Cargo.toml": package("other", deps='base = { path = "../../libs/base" }\n'),
        "apps/other/src/main.rs": bin_rs("other", ["base::GREETING"]),
    }
    return _simple(
        "default-members",
        files=files,
        package_name="main-app",
        bin_name="main-app",
        main="apps/main/src/main.rs",
        cargo_args=("--release",),
        expect=["base v1"],
    )


def _excluded_member() -> Shape:
    files = {
        "Cargo.toml": (
            '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\nexclude = ["crates/experimental"]\n'
        ),
        "crates/lib/Cargo.toml": package("lib"),
        "crates/lib/src/lib.rs": lib_rs("lib"),
        "crates/app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\n'),
        "crates/app/src/main.rs": bin_rs("app", ["lib::GREETING"]),
        # Not a member: as a member it would need a crate no registry here has.
        "crates/experimental/Cargo.toml": package("experimental", deps='no-such-crate = "9"\n'),
        "crates/experimental/src/lib.rs": 'compile_error!("never built");\n',
    }
    return _simple("excluded-member", files=files, main="crates/app/src/main.rs", expect=["lib v1"])


def _patch_path_crate() -> Shape:
    files = {
        "Cargo.toml": workspace("app", extra='[patch.crates-io]\nfake-log = { path = "patches/fake-log" }\n'),
        "patches/fake-log/Cargo.toml": package("fake-log", "0.4.1"),
        "patches/fake-log/src/lib.rs": lib_rs(
            "patched-log", "pub fn fake_log() -> &'static str {\n    GREETING\n}\n"
        ),
        "app/Cargo.toml": package("app", deps='fake-log = "0.4"\n'),
        "app/src/main.rs": bin_rs("app", ["fake_log::fake_log()"]),
    }
    return _simple(
        "patch-path-crate",
        files=files,
        extra_edits=(_edit_lib("patches/fake-log/src/lib.rs", "patched-log"),),
        expect=["patched-log v2"],
    )


def _patch_member() -> Shape:
    """`[patch.crates-io]` entries that point at workspace members (forks kept in the monorepo): fake-log's,
    used by the app and by a third-party crate, its version and edition inherited; fake-extra's, which
    the app does not use (pruned, its [patch] entry with it)."""
    root = workspace(
        "app",
        "forks/fake-log",
        "forks/fake-extra",
        extra=(
            '[workspace.package]\nversion = "0.4.9"\nedition = "2021"\n\n'
            '[patch.crates-io]\nfake-log = { path = "forks/fake-log" }\n'
            'fake-extra = { path = "forks/fake-extra" }\n'
        ),
    )
    fork = '[package]\nname = "fake-log"\nversion.workspace = true\nedition.workspace = true\n'
    files = {
        "Cargo.toml": root,
        "forks/fake-log/Cargo.toml": fork,
        "forks/fake-log/src/lib.rs": lib_rs(
            "forked-log", "pub fn fake_log() -> &'static str {\n    GREETING\n}\n"
        ),
        "forks/fake-extra/Cargo.toml": package("fake-extra", "0.1.5"),
        "forks/fake-extra/src/lib.rs": lib_rs("forked-extra"),
        "app/Cargo.toml": package("app", deps='fake-log = "0.4"\nfake-uses-log = "0.1"\n'),
        "app/src/main.rs": bin_rs("app", ["fake_log::fake_log()", "fake_uses_log::fake_uses_log()"]),
    }
    return _simple(
        "patch-entries-that-are-members",
        files=files,
        vendored=("fake-log", "fake-uses-log", "fake-extra"),
        extra_edits=(_edit_lib("forks/fake-log/src/lib.rs", "forked-log"),),
        expect=["forked-log v2", "forked-log v2"],
    )


def fork_files(*members: str) -> dict[str, str]:
    """A workspace whose `[patch]` of fake-log points at a fork kept as a member, forks/fake-log, which uses
    the member util (nothing else does); `members`: the others, whose files the caller adds."""
    return {
        "Cargo.toml": workspace(
            *members,
            "forks/fake-log",
            "util",
            extra='[patch.crates-io]\nfake-log = { path = "forks/fake-log" }\n',
        ),
        "forks/fake-log/Cargo.toml": package("fake-log", "0.4.5", deps='util = { path = "../../util" }\n'),
        "forks/fake-log/src/lib.rs": "pub fn fake_log() -> &'static str {\n    util::GREETING\n}\n",
        "util/Cargo.toml": package("util"),
        "util/src/lib.rs": lib_rs("util"),
    }


def _patch_member_using_a_member(*, targets: bool) -> Shape:
    """A [patch] fork kept in the monorepo that uses a member (util) nothing else uses: util is real like the
    fork (pruned, cook could not find it; stubbed with every member when no target is given, the fork did
    not compile against the stub)."""
    files = {
        **fork_files("app"),
        "app/Cargo.toml": package("app", deps='fake-log = "0.4"\n'),
        "app/src/main.rs": bin_rs("app", ["fake_log::fake_log()"]),
    }
    return _simple(
        "patch-member-using-a-member" + ("" if targets else "-no-target"),
        files=files,
        vendored=("fake-log",),
        extra_edits=(_edit_lib("util/src/lib.rs", "util"),),
        expect=["util v2"],
        prepare_args=("-p", "app") if targets else (),
        cargo_args=("--release", "-p", "app") if targets else ("--release",),
    )


def _patch_in_cargo_config() -> Shape:
    """`[patch.crates-io]` in `.cargo/config.toml`, not in the manifest: fake-log's fork, which the app uses,
    and fake-extra's, which nothing uses (cargo still reads its manifest, so it must be there)."""
    config = (
        CARGO_CONFIG + '\n[patch.crates-io]\nfake-log = { path = "forks/fake-log" }\n'
        'fake-extra = { path = "forks/fake-extra" }\n'
    )
    files = {
        ".cargo/config.toml": config,
        "Cargo.toml": workspace("app"),
        "forks/fake-log/Cargo.toml": package("fake-log", "0.4.5"),
        "forks/fake-log/src/lib.rs": lib_rs(
            "forked-log", "pub fn fake_log() -> &'static str {\n    GREETING\n}\n"
        ),
        "forks/fake-extra/Cargo.toml": package("fake-extra", "0.1.5"),
        "forks/fake-extra/src/lib.rs": lib_rs("forked-extra"),
        "app/Cargo.toml": package("app", deps='fake-log = "0.4"\n'),
        "app/src/main.rs": bin_rs("app", ["fake_log::fake_log()"]),
    }
    return _simple(
        "patch-in-cargo-config",
        files=files,
        vendored=("fake-log", "fake-extra"),
        extra_edits=(_edit_lib("forks/fake-log/src/lib.rs", "forked-log"),),
        expect=["forked-log v2"],
    )


def _workspace_path_deps_features() -> Shape:
    """[workspace.dependencies] path entries taken with `workspace = true` plus features/optional, `dep:` and
    weak `dep?/feat` features on local optional dependencies, `package.workspace = ".."` written out, a
    `[lib] name` override, [workspace.lints], and a dev-dependency cycle (liba <-> testutil)."""
    root = workspace(
        "app",
        "liba",
        "libb",
        "testutil",
        extra=(
            '[workspace.dependencies]\nliba = { path = "liba", version = "0.1.0" }\n'
            'libb = { path = "libb", default-features = false }\nfake-extra = "0.1"\n\n'
            '[workspace.lints.rust]\nunsafe_code = "forbid"\n'
        ),
    )
    liba_body = (
        '#[cfg(feature = "loud")]\npub const VOL: &str = "LOUD";\n'
        '#[cfg(not(feature = "loud"))]\npub const VOL: &str = "quiet";\n'
    )
    files = {
        "Cargo.toml": root,
        "liba/Cargo.toml": package(
            "liba",
            extra=(
                '[lib]\nname = "alpha"\n\n[features]\nloud = []\n\n[lints]\nworkspace = true\n\n'
                '[dev-dependencies]\ntestutil = { path = "../testutil" }\n'
            ),
        ),
        "liba/src/lib.rs": lib_rs("liba", liba_body),
        "testutil/Cargo.toml": package("testutil", deps="liba.workspace = true\n"),
        "testutil/src/lib.rs": "pub fn helper() -> &'static str {\n    alpha::GREETING\n}\n",
        "libb/Cargo.toml": (
            '[package]\nname = "libb"\nversion = "0.1.0"\nedition = "2021"\nworkspace = ".."\n\n'
            '[features]\ndefault = ["x"]\nx = []\nfancy = ["dep:fake-extra", "liba?/loud"]\n\n'
            "[dependencies]\nfake-extra = { workspace = true, optional = true }\n"
            "liba = { workspace = true, optional = true }\n"
        ),
        "libb/src/lib.rs": lib_rs(
            "libb",
            '#[cfg(feature = "fancy")]\npub fn fancy() -> &\'static str {\n    fake_extra::fake_extra()\n}\n',
        ),
        "app/Cargo.toml": package(
            "app",
            deps=(
                'liba = { workspace = true, features = ["loud"] }\n'
                'libb = { workspace = true, optional = true, features = ["fancy"] }\n'
            ),
            extra=(
                '[features]\ndefault = ["b"]\nb = ["dep:libb", "libb?/liba"]\n\n[lints]\nworkspace = true\n\n'
                '[dev-dependencies]\ntestutil = { path = "../testutil" }\n'
            ),
        ),
        "app/src/main.rs": bin_rs(
            "app", ["alpha::GREETING", "alpha::VOL", "libb::GREETING", "libb::fancy()"]
        ),
    }
    return _simple(
        "workspace-path-dependencies-with-features",
        files=files,
        vendored=("fake-extra",),
        extra_edits=(_edit_lib("libb/src/lib.rs", "libb"),),
        expect=["liba v1", "LOUD", "libb v2", "fake-extra 0.1.0"],
    )


def _cargo_config_env_rustflags() -> Shape:
    """The workspace's .cargo/config.toml sets [env], [alias] and [build] rustflags: cook and build must
    agree on them, or every crate recompiles in the final stage."""
    config = CARGO_CONFIG + (
        '\n[env]\nLIB_ENV = "env v1"\n\n[alias]\nrel = "build --release"\n\n'
        '[build]\nrustflags = ["--cfg", "chefpy_flag"]\n'
    )
    lib_body = (
        'pub const ENV: &str = env!("LIB_ENV");\n'
        '#[cfg(chefpy_flag)]\npub const FLAG: &str = "flag on";\n'
        '#[cfg(not(chefpy_flag))]\npub const FLAG: &str = "flag off";\n'
    )
    files = {
        ".cargo/config.toml": config,
        "Cargo.toml": workspace("app", "lib"),
        "lib/Cargo.toml": package(
            "lib", deps='fake-log = "0.4"\n', extra='[lints.rust]\nunexpected_cfgs = "allow"\n'
        ),
        "lib/src/lib.rs": lib_rs("lib", lib_body),
        "app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\n'),
        "app/src/main.rs": bin_rs("app", ["lib::GREETING", "lib::ENV", "lib::FLAG"]),
    }
    return _simple(
        "cargo-config-env-alias-rustflags",
        files=files,
        extra_edits=(_edit_lib("lib/src/lib.rs", "lib"),),
        expect=["lib v2", "env v1", "flag on"],
    )


def _outside_path_dep() -> Shape:
    files = {
        "Cargo.toml": workspace("app"),
        "app/Cargo.toml": package("app", deps='helper = { path = "../../outside-ws/helper" }\n'),
        "app/src/main.rs": bin_rs("app", ["helper::GREETING"]),
    }
    outside = {"helper/Cargo.toml": package("helper"), "helper/src/lib.rs": lib_rs("outside-helper")}
    return _simple(
        "path-dependency-outside-workspace",
        files=files,
        outside=outside,
        extra_edits=(_edit_lib("../outside-ws/helper/src/lib.rs", "outside-helper"),),
        expect=["outside-helper v2"],
    )


def _build_scripts() -> Shape:
    """rerun-if-changed build scripts: a kept crate's (reads data/info.txt) and the stubbed app's own."""
    lib_build = (
        "fn main() {\n"
        '    println!("cargo:rerun-if-changed=build.rs");\n'
        '    println!("cargo:rerun-if-changed=data/info.txt");\n'
        '    let info = std::fs::read_to_string("data/info.txt").expect("data/info.txt");\n'
        '    println!("cargo:rustc-env=LIB_INFO={}", info.trim());\n'
        "}\n"
    )
    app_build = (
        "fn main() {\n"
        '    println!("cargo:rerun-if-changed=build.rs");\n'
        '    println!("cargo:rerun-if-changed=assets/motd.txt");\n'
        '    let motd = std::fs::read_to_string("assets/motd.txt").expect("assets/motd.txt");\n'
        '    println!("cargo:rustc-env=APP_MOTD={}", motd.trim());\n'
        "}\n"
    )
    files = {
        "Cargo.toml": workspace("app", "lib"),
        "lib/Cargo.toml": package("lib", deps='fake-build = "1.0"\n'),
        "lib/build.rs": lib_build,
        "lib/data/info.txt": "info v1\n",
        "lib/src/lib.rs": 'pub const INFO: &str = env!("LIB_INFO");\n',
        "app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\n'),
        "app/build.rs": app_build,
        "app/assets/motd.txt": "motd v1\n",
        "app/src/main.rs": bin_rs("app", ["lib::INFO", 'env!("APP_MOTD")']),
    }
    return _simple(
        "build-scripts-rerun-if-changed",
        files=files,
        vendored=("fake-build",),
        extra_edits=(Edit("app/assets/motd.txt", "motd v1", "motd v2"),),
        expect=["info v1", "motd v2"],
        reuses_cook=True,
    )


def _examples_tests() -> Shape:
    app = package(
        "app",
        deps='lib = { path = "../lib" }\n',
        extra=(
            '[[example]]\nname = "tour"\npath = "examples/tour/main.rs"\n\n'
            '[[test]]\nname = "explicit"\npath = "tests/explicit/main.rs"\n\n'
            '[[bench]]\nname = "speed"\npath = "benches/speed.rs"\nharness = false\n'
        ),
    )
    files = {
        "Cargo.toml": workspace("app", "lib"),
        "lib/Cargo.toml": package("lib"),
        "lib/src/lib.rs": lib_rs("lib"),
        "lib/examples/lib_demo.rs": "fn main() {}\n",
        "lib/tests/lib_it.rs": "#[test]\nfn works() {}\n",
        "app/Cargo.toml": app,
        "app/src/main.rs": bin_rs("app", ["lib::GREETING"]),
        "app/examples/demo.rs": "fn main() {}\n",
        "app/examples/tour/main.rs": "fn main() {}\n",
        "app/tests/smoke.rs": "#[test]\nfn smoke() {}\n",
        "app/tests/explicit/main.rs": "#[test]\nfn explicit() {}\n",
        "app/benches/speed.rs": "fn main() {}\n",
    }
    return _simple("examples-tests-benches-dirs", files=files, expect=["lib v1"])


def _version_0_0_1() -> Shape:
    """Members at 0.0.1, the stub's own masked version; the unedited second bin keeps its old mtime."""
    files = {
        "Cargo.toml": workspace("app", "lib"),
        "lib/Cargo.toml": package("lib", "0.0.1"),
        "lib/src/lib.rs": lib_rs("lib"),
        "app/Cargo.toml": package("app", "0.0.1", deps='lib = { path = "../lib", version = "0.0.1" }\n'),
        "app/src/main.rs": bin_rs("app", ["lib::GREETING"]),
        "app/src/bin/other.rs": bin_rs("other", ['env!("CARGO_PKG_VERSION")']),
    }
    return Shape(
        name="version-0.0.1-members",
        files=files,
        prepare_args=("-p", "app"),
        cargo_args=("--release", "-p", "app"),
        edits=(_edit_bin("app/src/main.rs", "app"),),
        binaries={"app": "edited app | lib v1", "other": "hello from other | 0.0.1"},
        compiled=frozenset({"app"}),
        reuses_cook=True,
    )


def _flat_layout() -> Shape:
    """Non-standard paths everywhere: a kept lib at lib.rs, the app's build script and bin outside src/."""
    app = (
        '[package]\nname = "flat-app"\nversion = "0.2.0"\nedition = "2021"\n'
        'build = "tools/build.rs"\nautobins = false\n\n'
        '[[bin]]\nname = "flat"\npath = "main.rs"\n\n'
        '[dependencies]\nflat-lib = { path = "../flat-lib" }\n'
    )
    files = {
        "Cargo.toml": workspace("flat-app", "flat-lib"),
        "flat-lib/Cargo.toml": package("flat-lib", extra='[lib]\npath = "lib.rs"\n'),
        "flat-lib/lib.rs": lib_rs("flat-lib"),
        "flat-app/Cargo.toml": app,
        "flat-app/tools/build.rs": (
            'fn main() {\n    println!("cargo:rustc-env=FLAT_BUILD=flat build ran");\n}\n'
        ),
        "flat-app/main.rs": bin_rs("flat", ["flat_lib::GREETING", 'env!("FLAT_BUILD")']),
        # Ignored by cargo (autobins = false): must not become a binary either.
        "flat-app/src/bin/ignored.rs": "fn main() {}\n",
    }
    return _simple(
        "flat-layout-non-standard-paths",
        files=files,
        package_name="flat-app",
        bin_name="flat",
        main="flat-app/main.rs",
        extra_edits=(_edit_lib("flat-lib/lib.rs", "flat-lib"),),
        expect=["flat-lib v2", "flat build ran"],
    )


def _target_embeds_outside_file() -> Shape:
    """The stubbed app itself include_str!s a file outside its package (no --include needed)."""
    files = {
        "Cargo.toml": workspace("crates/app", "crates/lib"),
        "config/default.toml": "setting = 1\n",
        "crates/lib/Cargo.toml": package("lib"),
        "crates/lib/src/lib.rs": lib_rs("lib"),
        "crates/app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\n'),
        "crates/app/src/main.rs": bin_rs(
            "app",
            ["lib::GREETING", "CONFIG.trim()"],
            'const CONFIG: &str = include_str!("../../../config/default.toml");\n\n',
        ),
    }
    return _simple(
        "stubbed-target-embeds-outside-file",
        files=files,
        main="crates/app/src/main.rs",
        extra_edits=(Edit("config/default.toml", "setting = 1", "setting = 2"),),
        expect=["lib v1", "setting = 2"],
        reuses_cook=True,
    )


def _two_targets() -> Shape:
    """Two packages built together (-p a -p b) over one shared kept library."""
    files = {
        "Cargo.toml": workspace("svc-a", "svc-b", "shared", "unused"),
        "shared/Cargo.toml": package("shared", deps='fake-log = "0.4"\n'),
        "shared/src/lib.rs": lib_rs("shared"),
        "svc-a/Cargo.toml": package("svc-a", deps='shared = { path = "../shared" }\n'),
        "svc-a/src/main.rs": bin_rs("svc-a", ["shared::GREETING"]),
        "svc-b/Cargo.toml": package("svc-b", deps='shared = { path = "../shared" }\n'),
        "svc-b/src/main.rs": bin_rs("svc-b", ["shared::GREETING"]),
        "unused/Cargo.toml": package("unused"),
        "unused/src/main.rs": bin_rs("unused"),
    }
    return Shape(
        name="two-targets-one-shared-library",
        files=files,
        prepare_args=("-p", "svc-a", "-p", "svc-b"),
        cargo_args=("--release", "-p", "svc-a", "-p", "svc-b"),
        edits=(_edit_bin("svc-b/src/main.rs", "svc-b"), _edit_lib("shared/src/lib.rs", "shared")),
        binaries={"svc-a": "hello from svc-a | shared v2", "svc-b": "edited svc-b | shared v2"},
        compiled=frozenset({"svc-a", "svc-b"}),
        reuses_cook=False,
    )


def _edition_2024() -> Shape:
    """Edition 2024 members with resolver 3."""
    files = {
        "Cargo.toml": workspace("app", "lib").replace('resolver = "2"', 'resolver = "3"'),
        "lib/Cargo.toml": package("lib", deps='fake-log = "0.4"\n').replace('"2021"', '"2024"'),
        "lib/src/lib.rs": lib_rs("lib"),
        "app/Cargo.toml": package("app", deps='lib = { path = "../lib" }\n').replace('"2021"', '"2024"'),
        "app/src/main.rs": bin_rs("app", ["lib::GREETING"]),
    }
    return _simple(
        "edition-2024-resolver-3",
        files=files,
        extra_edits=(_edit_lib("lib/src/lib.rs", "lib"),),
        expect=["lib v2"],
    )


def all_shapes() -> tuple[Shape, ...]:
    shapes = (
        _ripgrep_like(),
        _auto_bins(),
        _root_package_stubbed(),
        _root_package_kept(),
        _prerelease_vendored(),
        _toml_1_1(),
        _bom(),
        _build_script_outside(),
        _include_str_outside(),
        _workspace_inheritance(),
        _custom_profile(),
        _host_target(),
        _features(),
        _proc_macro_member(),
        _renamed_deps(),
        _hyphenated(),
        _target_specific(),
        _dev_only(),
        _nested_members(),
        _default_members(),
        _excluded_member(),
        _patch_path_crate(),
        _outside_path_dep(),
        _patch_member(),
        _patch_member_using_a_member(targets=True),
        _patch_member_using_a_member(targets=False),
        _patch_in_cargo_config(),
        _workspace_path_deps_features(),
        _cargo_config_env_rustflags(),
        _build_scripts(),
        _examples_tests(),
        _version_0_0_1(),
        _flat_layout(),
        _target_embeds_outside_file(),
        _two_targets(),
        _edition_2024(),
    )
    names = [shape.name for shape in shapes]
    assert len(set(names)) == len(names), names
    return shapes
