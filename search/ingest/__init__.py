"""From archive files to articles: records, readers, dates, languages, passages, and
the pipeline that feeds both sides of an index."""
