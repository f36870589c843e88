"""Names of the Beam metrics counters the run summary reads (namespace ``newsbeam``)."""

NAMESPACE = "newsbeam"
RECORDS_READ = "records_read"
FILES_MATCHED = "files_matched"
WRITTEN = "{dataset}_written"  # articles_written, duplicates_written, rejected_written
REJECTED_BY_REASON = "rejected/{stage}/{reason}"
DUPLICATES_BY_KIND = "duplicates/{kind}"
FILES_WRITTEN = "files_written/{dataset}"
ALREADY_WRITTEN = "already_written"  # records an earlier run already wrote (re-reads): no new row
FEEDS_FETCHED = "feeds_fetched"
FEEDS_NOT_MODIFIED = "feeds_not_modified"
FEEDS_FAILED = "feeds_failed"
FEEDS_BACKED_OFF = "feeds_backed_off"
# Connected components of the batch dedup graph (pipeline/dedup/components.py)
COMPONENT_CHANGES = "components/changes/round_{round}"  # edges replaced by the large/small-star steps of a round
COMPONENT_LAST_ROUND_CHANGES = "components/changes_last_round"  # 0 proves the rounds reached the fixed point
COMPONENT_UNSETTLED = "components/unsettled_nodes"  # nodes whose neighbours disagree on the label after the rounds
COMPONENT_FALLBACK_EDGES = "components/fallback_edges"  # edges finished by the capped union-find
