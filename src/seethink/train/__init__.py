"""Run a recipe: one stage = one TRL trainer, stage k starting from stage k-1's checkpoint."""
