"""The web layer: a FastAPI app over the ``search`` engine, with a search page."""
