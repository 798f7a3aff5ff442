"""One folder per platform: read (poll or stream), reply, message, fetch a profile.

Connectors never import each other or the care app; they hand `RawPost`s to
`hubbub.listening.services.accept_posts`.
"""
