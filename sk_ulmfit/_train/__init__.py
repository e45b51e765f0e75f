"""Training: the fit schedule (stages, discriminative rates, rate curves, optimiser) and the training loop."""
