"""The ingestion pipeline: accept → normalise → dedupe → match → classify → score → thread → route.

Every stage is a plain function over a batch of frozen dataclasses
(`hubbub.listening.types`); runners (in-process, or Redis Streams) move
batches between them.
"""
