"""News archive search engine: lexical (Whoosh), semantic (FAISS) and hybrid retrieval.

The package is a library with no web code; ``search.engine.Engine`` is its entry point.
"""
