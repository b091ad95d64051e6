"""Export a recipe to cluster engines (verl / EasyR1): data, reward module, configs, one launch script."""
