"""The body's evidence of pain: ECG arousal, heart rate against rest, the ECG model's reading, and fusion."""
