"""Storage: the database schema, patients' records, accounts and the per-second readings. No Flask.

Used by the web layer and by the assessment layer; it imports neither of them
(only the shared types below it: server.pain's Result and scale, server.problems).
"""
