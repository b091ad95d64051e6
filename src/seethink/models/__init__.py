"""Models: load any HF VLM, build the tiny default, freeze the vision tower, pretrain the base."""
