"""The engine's error tree: each edge (CLI, API) translates these exactly once."""


class SearchError(Exception):
    """Base class for every error the engine reports to a caller."""


class QueryError(SearchError):
    """The query text or a search parameter cannot be understood."""


class ArticleNotFound(SearchError):
    """No article with the requested id is in the index."""

    def __init__(self, article_id: str) -> None:
        super().__init__(f"no article with id {article_id!r}")
        self.article_id = article_id


class IndexNotBuilt(SearchError):
    """The index folder holds no built index yet."""


class ModelMismatch(SearchError):
    """The index was built with another embedding model than the one requested."""


class InputError(SearchError):
    """An input file cannot be read at all (missing, unreadable, unknown format)."""


class ModelError(SearchError):
    """The embedding model cannot be loaded."""


class WriterBusy(SearchError):
    """Another process holds the index's writer lock."""
