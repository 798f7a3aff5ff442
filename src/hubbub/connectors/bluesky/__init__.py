"""Bluesky (AT Protocol): keyword search and @-mentions by XRPC, Jetstream, replies and DMs."""
