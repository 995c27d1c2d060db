"""Who may do what, and how much: login and tokens, rate limits, throttles, HTTPS, hardened parsing."""
