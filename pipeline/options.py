"""The one options class.  Unknown flags pass through to Beam's own option classes,
so ``--runner DataflowRunner --project …`` just works."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.errors import DEFAULT_MAX_PAYLOAD_BYTES
from pipeline.sinks import DEFAULT_ROWS_PER_FILE
from pipeline.sources.files import FORMATS


class NewsbeamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--input", dest="input", action="append", default=None,
            help="Glob of article files over Beam's file systems (local, gs://…); repeat for several.",
        )
        parser.add_argument("--output", dest="output", default=None, help="Output root: articles/, duplicates/, rejected/ datasets.")
        parser.add_argument(
            "--input-format", "--input_format", dest="input_format", default=None, choices=FORMATS,
            help="Read every input as this format instead of detecting it from the extension.",
        )
        parser.add_argument(
            "--field-map", "--field_map", dest="field_map", default=None,
            help="Field names of JSONL/CSV records, e.g. 'text=body_html,title=hed|headline' (defaults cover the common names).",
        )
        parser.add_argument(
            "--rows-per-file", "--rows_per_file", dest="rows_per_file", type=int, default=DEFAULT_ROWS_PER_FILE,
            help="Target maximum rows per Parquet file (files are split by a stable hash of the row id).",
        )
        parser.add_argument(
            "--max-payload-bytes", "--max_payload_bytes", dest="max_payload_bytes", type=int, default=DEFAULT_MAX_PAYLOAD_BYTES,
            help="Raw payload kept per rejected record (default 64 KiB).",
        )
        parser.add_argument(
            "--no-tagging", "--no_tagging", dest="no_tagging", action="store_true", default=False,
            help="Skip tagging (language detection).",
        )
