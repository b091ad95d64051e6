"""The offline miniature: a synthetic visual world with exact ground truth, a tiny VLM built from configs, its
tokenizer, the pretraining of the base RL starts from, and the shipped base itself.

The method never imports this package. `seethink.resolve` maps a recipe's `model: base` and `data: world` onto
it, and the command line wires its verbs (`world`, `pretrain`); nothing else outside it imports it (tested)."""
