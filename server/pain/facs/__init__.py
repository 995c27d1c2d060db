"""The FACS estimator (geometry): action units against the neutral face, the fitted pain head, look-alikes."""
