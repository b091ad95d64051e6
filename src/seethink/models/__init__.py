"""Models: load any local Hugging Face VLM and its processor offline, freeze its vision tower, generate in batches,
and chat models used as tools (judge, MCQ generator, filters) from an endpoint or a local folder."""
