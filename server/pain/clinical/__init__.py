"""The clinical observational pain scales (PAINAD, CPOT, FLACC) and their pre-fill from the camera."""
