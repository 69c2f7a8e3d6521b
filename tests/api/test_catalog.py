"""GET /api/v1/operations: the operations as editor/operations.py declares them."""

from __future__ import annotations

import pytest

from editor import operations
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_every_operation_with_providers_params_and_files(alice_api: ApiClient) -> None:
    response = alice_api.get("/api/v1/operations")
    assert response.status_code == 200
    listed = {item["slug"]: item for item in response.json()}
    assert list(listed) == [operation.slug for operation in operations.OPERATIONS]
    colorize = listed["colorize"]
    assert colorize["default_provider"] == "picwish"
    assert colorize["providers"] == [
        {"name": "picwish", "label": "PicWish", "vendor": "picwish", "credits": 1}
    ]
    assert [spec["role"] for spec in colorize["files"]] == ["image"]
    migration = listed["color_migration"]
    assert {provider["name"]: provider["credits"] for provider in migration["providers"]} == {
        "local": 0,
        "ailabtools": 4,
    }
    extend = listed["extend"]
    assert {spec["role"] for spec in extend["files"]} >= {"image", "mask"}
    for operation in operations.OPERATIONS:
        declared = {param.name: param for param in operation.params}
        for param in listed[operation.slug]["params"]:
            source = declared[param["name"]]
            assert param["type"] == source.kind
            assert param["minimum"] == source.minimum
            assert param["maximum"] == source.maximum
            assert param["required"] == source.required
