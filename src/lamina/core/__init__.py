"""Value objects shared by every stage of the pipeline; no I/O happens here."""
