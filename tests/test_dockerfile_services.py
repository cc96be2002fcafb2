"""The multi-service Dockerfile and docker-bake.hcl: pure text from a layout."""

from __future__ import annotations

import re

from cargo_chefpy.dockerfile import (
    Service,
    ServicesLayout,
    render_bake,
    render_services,
    stage_name,
)

LAYOUT = ServicesLayout(
    services=tuple(
        Service(package=p, binary=p, stage=p.lower()) for p in ("serviceX", "serviceY", "serviceZ")
    ),
    workspace=".",
    context=".",
    vendored=("vendored",),
    target_dir="target",
)
COMMAND = "cargo chefpy dockerfile -p serviceX -p serviceY -p serviceZ"


def text(layout: ServicesLayout = LAYOUT) -> str:
    return render_services(
        layout, base_image="rust:1-bookworm", runtime_image="debian:bookworm-slim", command=COMMAND
    )


def stages(dockerfile: str) -> dict[str, str]:
    """Stage name -> the image or stage it starts FROM."""
    return {m[2]: m[1] for m in re.finditer(r"^FROM (\S+) AS (\S+)$", dockerfile, re.M)}


def test_one_shared_deps_stage_and_a_cook_build_and_image_target_per_service() -> None:
    assert stages(text()) == {
        "chef": "${BASE_IMAGE}",
        "planner": "chef",
        "deps": "chef",
        **{f"cook-{s}": "deps" for s in ("servicex", "servicey", "servicez")},
        **{f"build-{s}": f"cook-{s}" for s in ("servicex", "servicey", "servicez")},
        **dict.fromkeys(("servicex", "servicey", "servicez"), "${RUNTIME_IMAGE}"),
    }


def test_the_planner_writes_one_shared_deps_recipe_and_a_recipe_and_sources_per_service_outside_app() -> None:
    runs = [line for line in text().splitlines() if line.startswith("RUN ") and "prepare" in line]
    assert runs == [
        "RUN mkdir -p /plan && cargo chefpy prepare -p serviceX -p serviceY -p serviceZ "
        "--recipe-path /plan/recipe.all.json --deps-recipe-path /plan/recipe.deps.json",
        "RUN cargo chefpy prepare -p serviceX --recipe-path /plan/recipe.serviceX.json "
        "--sources-dir /plan/serviceX",
        "RUN cargo chefpy prepare -p serviceY --recipe-path /plan/recipe.serviceY.json "
        "--sources-dir /plan/serviceY",
        "RUN cargo chefpy prepare -p serviceZ --recipe-path /plan/recipe.serviceZ.json "
        "--sources-dir /plan/serviceZ",
    ]


def test_the_deps_stage_cooks_the_shared_recipe_once_per_service_against_feature_unification() -> None:
    out = text()
    deps = out[out.index("FROM chef AS deps") : out.index("FROM deps AS cook-servicex")]
    assert [line for line in deps.splitlines() if line.startswith(("COPY", "RUN"))] == [
        "COPY --from=planner /plan/recipe.deps.json recipe.deps.json",
        "COPY vendore[d] vendored/",
        "RUN cargo chefpy cook --release -p serviceX --recipe-path recipe.deps.json",
        "RUN cargo chefpy cook --release -p serviceY --recipe-path recipe.deps.json",
        "RUN cargo chefpy cook --release -p serviceZ --recipe-path recipe.deps.json",
    ]
    header = " ".join(line.lstrip("# ") for line in out.splitlines() if line.startswith("#"))
    assert "Feature unification" in header
    assert "once per service" in header


def test_each_service_cooks_its_own_recipe_builds_its_own_sources_and_carries_only_its_binary() -> None:
    out = text()
    block = out[out.index("FROM deps AS cook-servicey") : out.index("FROM deps AS cook-servicez")]
    assert [line for line in block.splitlines() if line and not line.startswith("#")] == [
        "FROM deps AS cook-servicey",
        "COPY --from=planner /plan/recipe.serviceY.json recipe.json",
        "RUN cargo chefpy cook --release -p serviceY",
        "FROM cook-servicey AS build-servicey",
        "COPY --from=planner /plan/serviceY/ ./",
        "RUN cargo chefpy build --release -p serviceY",
        "FROM ${RUNTIME_IMAGE} AS servicey",
        "COPY --from=build-servicey /app-target/release/serviceY /usr/local/bin/serviceY",
        'ENTRYPOINT ["/usr/local/bin/serviceY"]',
    ]


def test_a_workspace_below_the_context_gets_its_manifest_path_and_workdir() -> None:
    layout = ServicesLayout(
        services=LAYOUT.services, workspace="ws", context="..", vendored=(), target_dir="target"
    )
    out = text(layout)
    assert "RUN cargo chefpy prepare --manifest-path ws/Cargo.toml -p serviceX --recipe-path" in out
    assert out.count("WORKDIR /app/ws\n") == 3
    assert "vendore[d]" not in out
    assert "docker build --target servicex -t servicex -f Dockerfile .." in out


def test_the_text_is_deterministic_and_has_no_host_path() -> None:
    assert text() == text()
    assert "/tmp" not in text()
    assert "/home" not in text()


def test_stage_names_are_lowercase_image_targets() -> None:
    assert stage_name("serviceX") == "servicex"
    assert stage_name("My_Svc-2") == "my_svc-2"
    assert stage_name("2fast") == "service-2fast"


def test_the_bake_file_has_one_target_per_service_and_a_default_group_of_them_all() -> None:
    hcl = render_bake(LAYOUT, dockerfile="Dockerfile", context=".", command=COMMAND)
    assert 'group "default" {\n  targets = ["servicex", "servicey", "servicez"]\n}' in hcl
    assert (
        'target "servicez" {\n'
        '  context    = "."\n'
        '  dockerfile = "Dockerfile"\n'
        '  target     = "servicez"\n'
        '  tags       = ["servicez:latest"]\n'
        "}\n"
    ) in hcl
    assert hcl.count("\ntarget ") == 3
