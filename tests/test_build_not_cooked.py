"""build's warning about packages cook did not build reads cargo's package id specs as cargo does."""

from __future__ import annotations

import pytest

from cargo_chefpy.build import not_cooked


@pytest.mark.parametrize(
    "spec",
    [
        "serviceZ",
        "serviceZ@0.3.0",
        "path+file:///ws/serviceZ#0.3.0",  # a fragment that is a version: the name is the path's last part
        "file:///ws/serviceZ#0.3.0",
        "path+file:///ws/services/z#serviceZ@0.3.0",
        "path+file:///ws/serviceZ",
        "path+file:///ws/serviceZ?x=1",
    ],
)
def test_a_package_id_spec_naming_what_cook_built_is_not_warned_about(spec: str) -> None:
    assert not_cooked([spec], ["serviceZ"]) == []


def test_a_package_cook_did_not_build_is_warned_about_in_any_spelling() -> None:
    specs = ["serviceY", "path+file:///ws/serviceY#0.3.0", "serviceY@0.3.0"]
    assert not_cooked(specs, ["serviceZ"]) == sorted(specs)
