"""Records: one schema for every pipeline step, and its loading and saving."""
