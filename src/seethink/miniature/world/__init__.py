"""The synthetic visual world: scenes with exact ground truth, captions and question families."""

from seethink.records.schema import CAPABILITIES

# the world's datasets, one folder each (here, not in build.py, so the command line can list them without
# importing the renderer): one per capability, then the dense captions
DATASETS = (*CAPABILITIES, "captions")
OPTIONAL_DATASETS = ("image_pairs",)
"""Built only when asked (`seethink world build --datasets ... image_pairs`): `image_pairs` holds two-image visual
reasoning records ("How many more red objects are there in the first image than in the second image?"), so
multi-image records run through training and evaluation; the built-in world of the recipes leaves it out."""
