"""The replay source: posts from a CSV or JSON Lines file, at real time, N× or full speed."""
