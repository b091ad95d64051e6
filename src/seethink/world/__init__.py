"""The synthetic visual world: scenes with exact ground truth, captions and question families."""
