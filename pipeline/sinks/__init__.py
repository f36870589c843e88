"""Sinks: Parquet datasets published by a commit protocol (``commit.py``)."""

from pipeline.sinks.batch import DEFAULT_ROWS_PER_FILE, WriteArticles
from pipeline.sinks.commit import Recovery, committed_files, open_committed, recover
from pipeline.sinks.streaming import WriteStream

__all__ = ["DEFAULT_ROWS_PER_FILE", "Recovery", "WriteArticles", "WriteStream", "committed_files", "open_committed",
           "recover"]
