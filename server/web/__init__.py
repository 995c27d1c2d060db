"""HTTP only: pages, the JSON API and error responses. No analysis here."""
