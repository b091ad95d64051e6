"""seethink: post-train vision-language models along a capability curriculum (see first, then think)."""

__version__ = "0.1.0"
