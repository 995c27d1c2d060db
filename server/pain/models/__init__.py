"""The learned estimators: the networks, their checkpoints and inference, and the ECG classifier."""
