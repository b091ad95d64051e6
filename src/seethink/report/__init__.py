"""Reports: Markdown and PNG plots from run folders (`seethink report`) and from a study's results."""
