"""The engine's error tree: each edge (CLI, API) translates these exactly once.

The message (``str(exc)``) is for the operator and may name paths, processes and
hosts; ``public`` is what a remote client is told, and names none of them.
"""


class SearchError(Exception):
    """Base class for every error the engine reports to a caller."""

    #: The message for remote clients when ``str(exc)`` would say too much.
    public: str | None = None

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        if public is not None:
            self.public = public

    def public_message(self) -> str:
        return self.public or str(self)


class QueryError(SearchError):
    """The query text or a search parameter cannot be understood."""


class ArticleNotFound(SearchError):
    """No article with the requested id is in the index."""

    def __init__(self, article_id: str) -> None:
        super().__init__(f"no article with id {article_id!r}")
        self.article_id = article_id


class IndexNotBuilt(SearchError):
    """The index folder holds no built index yet."""

    public = "no index is built yet"


class IndexDamaged(SearchError):
    """A file of the live generation is missing, truncated or not what was written."""

    public = "the index is damaged; `news-search check` on the server names the file"


class ModelMismatch(SearchError):
    """The index was built with another embedding model than the one requested."""

    public = "the index was built with another model than the server expects"


class InputError(SearchError):
    """An input file cannot be read at all (missing, unreadable, unknown format)."""


class ModelError(SearchError):
    """The embedding model cannot be loaded."""

    public = "the embedding model cannot be loaded"


class WriterBusy(SearchError):
    """Another process holds the index's writer lock."""

    public = "the index is being written by another writer; try again shortly"


class StorageError(SearchError):
    """The disk refused a write (full, read-only, failing); the live index is unchanged."""

    public = "the index could not be written; the previous version is still served"

    def __init__(self, message: str, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full
        if disk_full:
            self.public = "the disk holding the index is full; the previous version is served"


class ClusterError(SearchError):
    """The Ray cluster a command was pointed at cannot be reached, or failed its work."""

    public = "the compute cluster could not do the work"
