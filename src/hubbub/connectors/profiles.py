"""Reading a customer's profile on their platform, with the workspace's own access there."""

from __future__ import annotations

from hubbub.connectors.base import ConnectorError, Profile, SourceConfig
from hubbub.connectors.polling import config_of
from hubbub.connectors.registry import capabilities_of, connector_for
from hubbub.listening.models import Source, SourceStatus


def fetch_profile(*, workspace_id: int, platform: str, handle: str) -> Profile:
    """The profile as the platform tells it now; raises ConnectorError.

    It is read with the settings and credentials of the workspace's own
    source on that platform (the server it reads, the session it holds);
    without one, anonymously where the platform allows it.
    """
    if not capabilities_of(platform).profile:
        raise ConnectorError(
            f"Hubbub cannot read profiles on {platform}.", transient=False, code="no_profiles"
        )
    source = (
        Source.objects.filter(workspace_id=workspace_id, kind=platform)
        .exclude(status=SourceStatus.PAUSED)
        .order_by("status", "pk")  # "active" before "failing"
        .first()
    )
    config = (
        config_of(source)
        if source is not None
        else SourceConfig(
            source_id=0,
            workspace_id=workspace_id,
            kind=platform,
            settings={},
            credentials={},
            cursor="",
        )
    )
    profile: Profile = connector_for(platform).fetch_profile(config, handle)
    return profile
