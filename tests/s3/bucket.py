"""What the S3 tier reads straight from the bucket, past the studio's storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bucket:
    client: Any  # a boto3 S3 client on the moto server
    name: str
    endpoint: str

    def objects(self, prefix: str = "") -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        )
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def body(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return data

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)

    def grants(self, key: str) -> list[dict[str, Any]]:
        grants: list[dict[str, Any]] = self.client.get_object_acl(Bucket=self.name, Key=key)[
            "Grants"
        ]
        return grants

    def url(self, key: str) -> str:
        """The object's plain address, path-style, with no signature."""
        return f"{self.endpoint}/{self.name}/{key}"
