"""The face measured: frontalised landmarks, blendshapes as action units, and the neutral baseline."""
