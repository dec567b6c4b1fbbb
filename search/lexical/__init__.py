"""The lexical side: analysis, the Whoosh store and schema, query parsing, BM25F
ranking over whole posting lists, per-document columns and the term lexicon."""
