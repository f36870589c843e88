"""Reading the key index that earlier runs wrote under ``OUTPUT/_index/`` (at run time,
never at pipeline-construction time).  Only committed runs count: files are listed by
``pipeline.sinks.commit.committed_files``, and any file-system error other than "nothing there
yet" fails the run (an unreadable index must never silently switch incremental dedup off)."""

from __future__ import annotations

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.dedup.exact import existing_member
from pipeline.dedup.shards import ShardBuffer
from pipeline.sinks.commit import committed_files, open_committed

INDEX_FOLDER = "_index/records"
EXACT, BANDS = "exact", "bands"


def index_pattern(output: str) -> str:
    """The element ``ListFilesFn`` takes (kept as the index glob, for the logs and the graph)."""
    return FileSystems.join(output, *INDEX_FOLDER.split("/"), "*.parquet")


def output_of(pattern: str) -> str:
    suffix = "/" + INDEX_FOLDER + "/*.parquet"
    return pattern[: -len(suffix)] if pattern.endswith(suffix) else pattern


class ListFilesFn(beam.DoFn):
    """The index glob of an output -> the committed index files now (``CommittedFile``; none on
    a first run).  Errors are raised, never read as "no index"."""

    def process(self, pattern: str):
        yield from committed_files(output_of(pattern), "index")


def read_index_table(file, columns: list[str]):
    """One committed index file (a ``CommittedFile`` from ``ListFilesFn``) as an Arrow table."""
    with open_committed(file) as handle:
        return pq.read_table(handle, columns=columns)


_MEMBER_COLUMNS = ["uid", "root_uid", "root_article_id", "root_ts", "root_order", "keys"]


class ReadIndexKeysFn(beam.DoFn):
    def process(self, path):
        table = read_index_table(path, _MEMBER_COLUMNS)
        exact, bands = ShardBuffer(), ShardBuffer()
        for row in table.to_pylist():
            member = existing_member(row)
            band_member = (*member, None)  # its sketch is joined later, only when needed
            for key in row["keys"]:
                if key[0] == "b":
                    bands.add(None, key, band_member)
                else:
                    exact.add(None, key, member)
        for _, value in exact.drain():
            yield value
        for _, value in bands.drain():
            yield beam.pvalue.TaggedOutput(BANDS, value)


class ReadIndexSignaturesFn(beam.DoFn):
    """An index file -> ``(uid, signature)`` of its records that have one, to be joined by
    uid with the candidates whose head they are (no list of wanted uids: a join, not a
    side input)."""

    def process(self, path):
        table = read_index_table(path, ["uid", "signature"])
        for uid, signature in zip(table.column("uid").to_pylist(), table.column("signature").to_pylist()):
            if signature is not None:
                yield uid, signature


class ReadIndexKeys(beam.PTransform):
    """``{"exact": (shard, [(key, member), ...]), "bands": (shard, [...])}`` of every record
    written before (sharded like this run's keys, ``shards.py``)."""

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, pbegin):
        read = (
            pbegin
            | "IndexKeyPattern" >> beam.Create([index_pattern(self._output)])
            | "ListIndexKeyFiles" >> beam.ParDo(ListFilesFn())
            | "SpreadIndexKeyFiles" >> beam.Reshuffle()
            | "ReadIndexKeyFiles" >> beam.ParDo(ReadIndexKeysFn()).with_outputs(BANDS, main=EXACT)
        )
        return {EXACT: read[EXACT], BANDS: read[BANDS]}


class ReadIndexSignatures(beam.PTransform):
    """``(uid, signature)`` of every written record that has a signature."""

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, pbegin):
        return (
            pbegin
            | "IndexSignaturePattern" >> beam.Create([index_pattern(self._output)])
            | "ListIndexSignatureFiles" >> beam.ParDo(ListFilesFn())
            | "SpreadIndexSignatureFiles" >> beam.Reshuffle()
            | "ReadIndexSignatureFiles" >> beam.ParDo(ReadIndexSignaturesFn())
        )
