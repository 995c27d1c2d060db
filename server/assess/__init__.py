"""Assessment: from decoded frames to a Result, for uploads (analysis) and live streams (live_session). No Flask.

Built on the analysis rooms below it (server.vision, server.pain, server.vitals);
stores through server.store (upload_records); knows nothing of the web layer.
See docs/ARCHITECTURE.md.
"""
