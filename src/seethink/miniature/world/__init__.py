"""The synthetic visual world: scenes with exact ground truth, captions and question families."""

# the world's datasets, one folder each (here, not in build.py, so the command line can list them without
# importing the renderer)
DATASETS = ("perception", "text_reasoning", "visual_reasoning", "captions")
