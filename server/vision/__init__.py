"""Image and video input, face landmarks, and drawing: numpy in, dataclasses out."""
