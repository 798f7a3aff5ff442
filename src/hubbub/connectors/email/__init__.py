"""Email as a channel: mail read over IMAP, replies sent over SMTP.

The pure layer (no database, no network): `mime` (raw message bytes to a
`ParsedEmail` that is safe to store and show), with `html` (sanitising,
remote content held back) and `attachments` (limits, archive bombs,
executables, file names) beside it; `sniff` (what a file really is, from its
first bytes) and `compose` (an agent's reply as a threaded `EmailMessage`).
The transports (`imap`, `smtp`, over `network`'s guarded connections) only
move bytes; `sync` keeps a mailbox's cursor and IDLE loop.
"""
