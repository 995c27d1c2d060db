"""Offline training tools: dataset readers, manifests, subject-wise splits and metrics."""
