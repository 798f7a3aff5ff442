"""Reddit: searches and subreddits' new comments in, replies and private messages out."""
