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
PAGES_FETCHED = "pages_fetched"  # article pages requested (one row each in pages/)
PAGES_USED = "pages_used"  # pages whose text became the article text
PAGES_SKIPPED = "pages_skipped"  # candidates already in the output or duplicated in this run: no request
PAGES_CAPPED = "pages_capped"  # candidates over --max-pages
PAGES_BY_STATUS = "pages/{status}"
PAGE_SEEDS = "page_seen_seeds"  # streaming: index keys fed into the seen-key state at start
