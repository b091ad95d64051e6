"""Data tools for real data: the paper's released datasets and other schemas as records, caption→MCQ synthesis
with a generator model, and filters (pass rate, near-duplicates, a blind model, the paper's keep rule)."""
