"""Translation entries, one file per Keras layer family; registered in ``pipeline.translate``."""
