"""Records: the one schema every step reads and writes, its files, MCQ layout and perception facts.

The floor of seethink: it imports nothing of seethink but the leaf utilities (`errors`, `fileio`)."""
