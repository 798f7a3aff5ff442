"""Hubbub: self-hosted social customer service."""

__version__ = "0.1.0"
