"""Sources: article files (read.py), live feeds (live.py) and streaming sources (streaming.py)."""

from pipeline.sources.read import MatchInputsFn, ReadArticleFiles, ReadFileRecordsFn

__all__ = ["MatchInputsFn", "ReadArticleFiles", "ReadFileRecordsFn"]
