"""The semantic side: sentence embedders, FAISS passage vectors, article ranking by
meaning, grounding of query words, and each article's stored neighbours."""
