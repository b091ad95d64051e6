"""Evaluation: batched generation, scoring with the training rewards, answer-prior baselines."""
