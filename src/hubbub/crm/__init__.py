"""Contacts: one customer across every channel and identity."""
