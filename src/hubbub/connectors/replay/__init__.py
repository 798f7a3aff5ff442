"""The replay source: posts from a CSV, TSV, JSON Lines or text file, at any pace."""
