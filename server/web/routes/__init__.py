"""The handlers: every blueprint and the Socket.IO namespaces (/live, /jobs), siblings of each other."""
