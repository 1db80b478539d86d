"""Gateway profiles (how the offline gateway looks on the wire) and request records."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROFILES", "Profile", "RecordedRequest", "resolve"]


@dataclass(frozen=True, slots=True)
class Profile:
    """How a gateway looks on the wire.

    ``prefix`` is the base path (endpoints are ``prefix + "/chat/completions"`` …);
    ``auth`` is ``"none"`` (anything accepted), ``"bearer"`` (requires
    ``Authorization: Bearer <non-empty>``) or ``"x-api-key"`` (requires a non-empty
    ``x-api-key`` header). A request failing the check is answered 401 in the endpoint's
    error shape.
    """

    name: str
    prefix: str = "/v1"
    auth: str = "none"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received: header names lower-cased, body as raw bytes."""

    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]
    body: bytes


PROFILES: dict[str, Profile] = {"mock": Profile("mock")}


def resolve(profile: str | Profile) -> Profile:
    """A profile by name (or the profile itself)."""
    if isinstance(profile, Profile):
        return profile
    found = PROFILES.get(profile)
    if found is None:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown gateway profile {profile!r} (known: {known})")
    return found
