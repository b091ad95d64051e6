"""Evaluation: scoring with the training rewards, CIs and answer priors, pass@K, error attribution, judges."""
