"""Vital signs: heart rate from skin colour (rPPG)."""
