"""The benchmark's workspace: the seed's shape, built from real crates that Debian packages.

Debian ships crate sources as `librust-*-dev` packages under /usr/share/cargo/registry. From them:

- libA, libB and libC are the real sources of globset, ignore and grep-regex (ripgrep's libraries), copied in
  as local path members under new package names, so that the local libraries dominate a rebuild;
- rust-patches/grep-matcher is grep-matcher's real source, used through `[patch.crates-io]`;
- serviceX, serviceY and serviceZ are small binaries written here that use them;
- every other crate (regex, serde, serde_derive, syn, proc-macro2, libc, encoding_rs, ...) is vendored with
  `cargo vendor --offline --locked --respect-source-config vendored`, exactly as a user without network access
  would. serde, serde_derive, proc-macro2, libc and crossbeam-utils print `cargo:rerun-if-changed`.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tomlkit

from integration.support.workspaces import run_cargo, semver_key, set_all_mtimes

DEBIAN_REGISTRY: Final = Path("/usr/share/cargo/registry")

# The packages `make bench` installs (bookworm names). "+default" pulls in default-feature dependencies.
DEBIAN_PACKAGES: Final = (
    "librust-globset-dev",
    "librust-ignore-dev",
    "librust-grep-searcher-dev",
    "librust-grep-regex-dev",
    "librust-grep-matcher-dev",
    "librust-serde-dev",
    "librust-serde+derive-dev",
    "librust-serde-json-dev",
    "librust-regex+default-dev",
    "librust-anyhow-dev",
    "librust-thiserror-dev",
    "librust-log-dev",
    "librust-once-cell-dev",
    "librust-libc-dev",
    "librust-proc-macro2-dev",
)

# Crates whose sources must be present (directory name prefix in the Debian registry).
REQUIRED_CRATES: Final = (
    "globset",
    "ignore",
    "grep-searcher",
    "grep-regex",
    "grep-matcher",
    "serde",
    "serde_derive",
    "serde_json",
    "regex",
    "anyhow",
    "thiserror",
    "log",
    "once_cell",
    "libc",
    "proc-macro2",
    "encoding_rs",
)

MEMBER_VERSION: Final = "0.2.0"
SERVICE_Z_GREETING: Final = "serviceZ says hello"
SERVICE_Y_GREETING: Final = "serviceY says hello"


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalLib:
    """A Debian crate copied into the workspace as a local member under another package name."""

    name: str  # package name in the workspace
    crate: str  # the Debian crate it is copied from
    directory: str  # root-relative
    renames: Mapping[str, str]  # dependency key -> local package name (a path dependency)


LOCAL_LIBS: Final = (
    LocalLib(name="libA", crate="globset", directory="src/libA", renames={}),
    LocalLib(name="libB", crate="ignore", directory="src/libB", renames={"globset": "libA"}),
    LocalLib(name="libC", crate="grep-regex", directory="src/libC", renames={}),
)
PATCHED_CRATE: Final = "grep-matcher"
PATCHED_DIR: Final = "rust-patches/grep-matcher"


def _crate_dir(registry: Path, crate: str) -> Path | None:
    """The newest `<crate>-<version>` directory in the registry (exact name; `serde` is not `serde_json`)."""
    found = [
        d
        for d in registry.glob(f"{crate}-*")
        if d.is_dir() and d.name[len(crate) + 1 :][:1].isdigit() and (d / "Cargo.toml").is_file()
    ]
    if not found:
        return None
    # The version is what follows `<crate>-`, whole: it may hold `-` itself (`0.5.0-rc.1`).
    return max(found, key=lambda d: semver_key(d.name[len(crate) + 1 :]))


def missing_crates(registry: Path = DEBIAN_REGISTRY) -> list[str]:
    return [c for c in REQUIRED_CRATES if _crate_dir(registry, c) is None]


def ensure_debian_crates(say: Callable[[str], None]) -> str | None:
    """Install the Debian crate packages when they are missing; the reason to skip the bench, or None."""
    if not missing_crates():
        return None
    os_release = Path("/etc/os-release")
    is_debian = os_release.is_file() and any(
        line.strip() in ("ID=debian", "ID=ubuntu", "ID_LIKE=debian")
        for line in os_release.read_text().splitlines()
    )
    apt = shutil.which("apt-get")
    if platform.system() != "Linux" or not is_debian or apt is None:
        return (
            "the benchmark needs crate sources from Debian's librust-*-dev packages "
            f"(/usr/share/cargo/registry), and this is not a Debian/Ubuntu machine with apt-get; "
            f"missing: {', '.join(missing_crates())}"
        )
    if os.geteuid() != 0:
        return (
            f"missing crate sources in {DEBIAN_REGISTRY}: {', '.join(missing_crates())}; run as root, or "
            "first "
            f"`sudo apt-get install {' '.join(DEBIAN_PACKAGES)}`"
        )
    say(f"installing {len(DEBIAN_PACKAGES)} Debian crate packages (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        [apt, "install", "-y", "-qq", "--no-install-recommends", *DEBIAN_PACKAGES],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    still = missing_crates()
    if still:
        return f"after apt-get install, still missing in {DEBIAN_REGISTRY}: {', '.join(still)}"
    return None


# ----------------------------------------------------------------------------------------------------
# Manifests
# ----------------------------------------------------------------------------------------------------

_DEP_TABLES: Final = ("dependencies", "build-dependencies")


def _local_dependency(spec: Any, path: str, package: str) -> dict[str, Any]:
    table: dict[str, Any] = {"path": path, "package": package}
    if isinstance(spec, dict):
        for key in ("optional", "features", "default-features"):
            if key in spec:
                table[key] = spec[key]
    return table


def _dependencies(deps: Mapping[str, Any], lib: LocalLib, libs: Mapping[str, LocalLib]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, spec in sorted(deps.items()):
        if key in lib.renames:
            target = libs[lib.renames[key]]
            rel = os.path.relpath(target.directory, lib.directory)
            out[key] = _local_dependency(spec, rel, target.name)
        else:
            out[key] = spec
    return out


def _library_manifest(
    debian: Mapping[str, Any], name: str, version: str, description: str | None
) -> dict[str, Any]:
    """[package] and [lib] of a library built from a Debian crate: only its library, no tests or benches."""
    package: dict[str, Any] = {"name": name, "version": version, "edition": debian.get("edition", "2015")}
    if description is not None:
        package["description"] = description
    package |= {
        "license": debian.get("license", "MIT"),
        "publish": False,
        "autotests": False,
        "autobenches": False,
        "autoexamples": False,
    }
    return {"package": package, "lib": {"path": "src/lib.rs", "bench": False, "doctest": False}}


def local_manifest(debian_manifest: str, lib: LocalLib, libs: Mapping[str, LocalLib]) -> str:
    """The member manifest of `lib`: Debian's manifest, renamed, without dev-deps, tests or benches."""
    doc = tomllib.loads(debian_manifest)
    package = doc["package"]
    description = f"{package['name']} {package['version']}, copied from Debian as a local member"
    out = _library_manifest(package, lib.name, MEMBER_VERSION, description)
    for table in _DEP_TABLES:
        if table in doc:
            out[table] = _dependencies(doc[table], lib, libs)
    targets: dict[str, Any] = {}
    for cfg, tables in sorted(doc.get("target", {}).items()):
        kept = {t: _dependencies(tables[t], lib, libs) for t in _DEP_TABLES if t in tables}
        if kept:
            targets[cfg] = kept
    if targets:
        out["target"] = targets
    if "features" in doc:
        out["features"] = dict(sorted(doc["features"].items()))
    return tomlkit.dumps(out)


def patched_manifest(debian_manifest: str) -> str:
    """The `[patch]` crate keeps its name and version (the patch must match), loses dev-deps and tests."""
    doc = tomllib.loads(debian_manifest)
    package = doc["package"]
    out = _library_manifest(package, package["name"], package["version"], None)
    for table in _DEP_TABLES:
        if table in doc:
            out[table] = dict(sorted(doc[table].items()))
    return tomlkit.dumps(out)


def _service_manifest(name: str, version: str, deps: Mapping[str, str]) -> str:
    lines = [
        "[package]",
        f'name = "{name}"',
        f'version = "{version}"',
        'edition = "2021"',
        "publish = false",
        "",
        "[dependencies]",
        *(f"{key} = {spec}" for key, spec in sorted(deps.items())),
    ]
    return "\n".join(lines) + "\n"


SERVICE_X_DEPS: Final = {
    "globset": '{ path = "../libA", package = "libA" }',
    "libc": '"0.2"',
    "log": '"0.4"',
    "once_cell": '"1"',
}
SERVICE_Y_DEPS: Final = {
    "globset": '{ path = "../libA", package = "libA" }',
    "serde": '{ version = "1", features = ["derive"] }',
    "serde_json": '"1"',
    "thiserror": '"1"',
}
SERVICE_Z_DEPS: Final = {
    "anyhow": '"1"',
    "grep-regex": '{ path = "../libC", package = "libC" }',
    "grep-searcher": '"0.1"',
    "ignore": '{ path = "../libB", package = "libB" }',
    "serde": '{ version = "1", features = ["derive"] }',
    "serde_json": '"1"',
}

SERVICE_X_RS: Final = """\
//! serviceX: prints which of its arguments match a fixed set of globs.

use globset::{Glob, GlobSet, GlobSetBuilder};
use once_cell::sync::Lazy;

static SOURCES: Lazy<GlobSet> = Lazy::new(|| {
    let mut builder = GlobSetBuilder::new();
    for pattern in ["*.rs", "**/Cargo.toml", "src/**/*.{c,h}"] {
        builder.add(Glob::new(pattern).expect("a valid glob"));
    }
    builder.build().expect("a valid glob set")
});

fn main() {
    let pid = unsafe { libc::getpid() };
    log::info!("serviceX started as pid {}", pid);
    let matched = std::env::args().skip(1).filter(|a| SOURCES.is_match(a)).count();
    println!("serviceX says hello: {} matching argument(s)", matched);
}
"""

SERVICE_Y_RS: Final = f"""\
//! serviceY: turns glob patterns into a JSON report of which sample paths they match.

use globset::Glob;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
enum Error {{
    #[error("bad glob: {{0}}")]
    Glob(#[from] globset::Error),
    #[error("cannot encode the report: {{0}}")]
    Json(#[from] serde_json::Error),
}}

#[derive(Serialize)]
struct Report {{
    greeting: &'static str,
    matches: Vec<(String, Vec<&'static str>)>,
}}

const SAMPLES: [&str; 4] = ["src/main.rs", "Cargo.toml", "docs/index.md", "src/lib/mod.rs"];

fn main() -> Result<(), Error> {{
    let mut report = Report {{ greeting: "{SERVICE_Y_GREETING}", matches: Vec::new() }};
    for pattern in std::env::args().skip(1) {{
        let matcher = Glob::new(&pattern)?.compile_matcher();
        let hits = SAMPLES.iter().copied().filter(|s| matcher.is_match(s)).collect();
        report.matches.push((pattern, hits));
    }}
    println!("{{}}", serde_json::to_string(&report)?);
    Ok(())
}}
"""

SERVICE_Z_RS: Final = f"""\
//! serviceZ: a tiny ripgrep. Walks a tree (ignore), searches each file (grep-searcher, grep-regex),
//! and prints a JSON report (serde).

use std::path::Path;

use anyhow::{{Context, Result}};
use grep_regex::RegexMatcher;
use grep_searcher::sinks::UTF8;
use grep_searcher::{{BinaryDetection, SearcherBuilder}};
use ignore::WalkBuilder;
use serde::Serialize;

const GREETING: &str = "{SERVICE_Z_GREETING}";

#[derive(Serialize, Default)]
struct Report {{
    greeting: &'static str,
    version: &'static str,
    files: u64,
    matches: u64,
    first: Vec<String>,
}}

fn search(root: &Path, pattern: &str) -> Result<Report> {{
    let matcher = RegexMatcher::new_line_matcher(pattern).context("compiling the pattern")?;
    let mut searcher = SearcherBuilder::new()
        .binary_detection(BinaryDetection::quit(b'\\x00'))
        .line_number(true)
        .build();
    let mut report = Report {{ greeting: GREETING, version: env!("CARGO_PKG_VERSION"), ..Report::default() }};
    for entry in WalkBuilder::new(root).build() {{
        let entry = entry.context("walking the tree")?;
        if !entry.file_type().map_or(false, |t| t.is_file()) {{
            continue;
        }}
        report.files += 1;
        let path = entry.path();
        let (matches, first) = (&mut report.matches, &mut report.first);
        searcher
            .search_path(
                &matcher,
                path,
                UTF8(|number, line| {{
                    *matches += 1;
                    if first.len() < 3 {{
                        first.push(format!("{{}}:{{}}: {{}}", path.display(), number, line.trim_end()));
                    }}
                    Ok(true)
                }}),
            )
            .with_context(|| format!("searching {{}}", path.display()))?;
    }}
    Ok(report)
}}

fn main() -> Result<()> {{
    let args: Vec<String> = std::env::args().collect();
    let root = args.get(1).map_or(".", String::as_str);
    let pattern = args.get(2).map_or("fn main", String::as_str);
    let report = search(Path::new(root), pattern)?;
    println!("{{}}", serde_json::to_string(&report)?);
    Ok(())
}}
"""

Service = tuple[str, Mapping[str, str], str]  # name, [dependencies] (key -> TOML spec), main.rs
SERVICES: Final[tuple[Service, ...]] = (
    ("serviceX", SERVICE_X_DEPS, SERVICE_X_RS),
    ("serviceY", SERVICE_Y_DEPS, SERVICE_Y_RS),
    ("serviceZ", SERVICE_Z_DEPS, SERVICE_Z_RS),
)


def _root_manifest(services: Sequence[Service]) -> str:
    members = [lib.directory for lib in LOCAL_LIBS] + [f"src/{name}" for name, _, _ in services]
    lines = [
        "[workspace]",
        'resolver = "2"',
        "members = [",
        *(f'    "{m}",' for m in sorted(members)),
        "]",
        'exclude = ["rust-patches"]',
        "",
        "[patch.crates-io]",
        f'{PATCHED_CRATE} = {{ path = "{PATCHED_DIR}" }}',
    ]
    return "\n".join(lines) + "\n"


def _directory_source_config(directory: str) -> str:
    return f'[source.crates-io]\nreplace-with = "local"\n\n[source.local]\ndirectory = "{directory}"\n'


def _copy_sources(src: Path, dest: Path) -> None:
    """The crate's `src/` tree and its license/readme files; no tests, examples, benches or Debian extras."""
    shutil.copytree(src / "src", dest / "src")
    for name in sorted(os.listdir(src)):
        if name.upper().startswith(("LICENSE", "COPYING", "UNLICENSE", "README")) and (src / name).is_file():
            shutil.copy(src / name, dest / name)


def write_workspace(
    root: Path,
    *,
    registry: Path = DEBIAN_REGISTRY,
    mtime: float | None = None,
    services: Sequence[Service] = SERVICES,
) -> None:
    """Write the bench workspace at `root`: members, Cargo.lock, and `vendored/` from Debian's registry.

    With `mtime`, every file ends up with that mtime (a checkout made some time ago). `services` are its
    binary members (default: serviceX, serviceY and serviceZ).
    """
    libs = {lib.name: lib for lib in LOCAL_LIBS}
    root.mkdir(parents=True)
    (root / "Cargo.toml").write_text(_root_manifest(services))
    for lib in LOCAL_LIBS:
        debian = _crate_dir(registry, lib.crate)
        assert debian is not None, lib.crate
        _copy_sources(debian, root / lib.directory)
        text = local_manifest((debian / "Cargo.toml").read_text(), lib, libs)
        (root / lib.directory / "Cargo.toml").write_text(text)
    patched = _crate_dir(registry, PATCHED_CRATE)
    assert patched is not None
    _copy_sources(patched, root / PATCHED_DIR)
    (root / PATCHED_DIR / "Cargo.toml").write_text(patched_manifest((patched / "Cargo.toml").read_text()))
    for name, deps, main_rs in services:
        directory = root / "src" / name
        (directory / "src").mkdir(parents=True)
        (directory / "Cargo.toml").write_text(_service_manifest(name, MEMBER_VERSION, deps))
        (directory / "src" / "main.rs").write_text(main_rs)
    (root / ".gitignore").write_text("/target\n")
    config = root / ".cargo" / "config.toml"
    config.parent.mkdir()
    # Resolve and vendor against Debian's registry, then point crates-io at vendored/ for good.
    config.write_text(_directory_source_config(str(registry)))
    run_cargo(["generate-lockfile", "--offline"], root)
    run_cargo(["vendor", "--offline", "--locked", "--respect-source-config", "vendored"], root)
    config.write_text(_directory_source_config("vendored"))
    run_cargo(["metadata", "--format-version", "1", "--offline", "--locked"], root)
    if mtime is not None:
        set_all_mtimes(root, mtime)


def relock(root: Path) -> None:
    """Update Cargo.lock after a manifest edit, offline, from `vendored/`."""
    run_cargo(["metadata", "--format-version", "1", "--offline"], root)


def replace_once(path: Path, old: str, new: str) -> None:
    """A bench edit: the first `old` in the file becomes `new` (an error when it is not there)."""
    text = path.read_text()
    if old not in text:
        raise AssertionError(f"{old!r} not in {path}")
    path.write_text(text.replace(old, new, 1))


def append_text(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)
