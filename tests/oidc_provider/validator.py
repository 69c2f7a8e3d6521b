from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator  # type: ignore[import-untyped]


class Validator(OAuth2Validator):  # type: ignore[misc]
    """The claims a company provider sends: username, email (verified) and the person's groups
    (their Django groups here), in the ID token and from the userinfo endpoint."""

    oidc_claim_scope = None  # every claim, whatever the scopes

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        return {
            "preferred_username": user.username,
            "email": user.email,
            "email_verified": True,
            "name": user.get_full_name() or user.username,
            "groups": sorted(group.name for group in user.groups.all()),
        }
