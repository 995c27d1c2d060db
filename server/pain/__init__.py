"""Pain estimation from face landmarks: scale (PSPI <-> levels) and estimators."""
