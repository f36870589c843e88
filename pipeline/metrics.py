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
# Streaming dedup (pipeline/dedup/streaming.py): keyed state bounded by --dedup-horizon.
DEDUP_STATE_WRITTEN = "dedup_state_written"  # entries put into keyed state (claims, bucket members, history)
DEDUP_STATE_EXPIRED = "dedup_state_expired"  # entries cleared by their horizon timer
DEDUP_KEYED = "dedup/keyed/{stage}"  # probes that entered a keyed stage (stage: text, url, guid, band)
DEDUP_BYPASSED = "dedup/bypassed/{stage}"  # probes with no key for a stage (or already decided): routed around it
DEDUP_HISTORY_AFTER_CLAIM = "dedup/history_after_claim"  # an earlier run's key arrived after this run claimed it
DEDUP_VERDICT_TIMEOUT = "dedup/verdict_timeout"  # article held past the horizon without a verdict: kept
DEDUP_VERDICT_ORPHAN = "dedup/verdict_orphan"  # a verdict whose article was already released
NEAR_OVERSIZED = "near/oversized_buckets"  # band members not stored because the bucket was full
PAGES_FETCHED = "pages_fetched"  # article pages requested (one row each in pages/)
PAGES_USED = "pages_used"  # pages whose text became the article text
PAGES_SKIPPED = "pages_skipped"  # candidates already in the output or duplicated in this run: no request
PAGES_CAPPED = "pages_capped"  # candidates over --max-pages
PAGES_BY_STATUS = "pages/{status}"
PAGE_SEEDS = "page_seen_seeds"  # streaming: index keys fed into the seen-key state at start
