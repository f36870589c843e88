"""The commit protocol of an output folder: nothing a run wrote counts until it has committed.

Layout under ``OUTPUT/``::

    _temporary/<run>/_owner.json                      who stages here (host, pid, runner, started)
    _temporary/<run>/<dataset>/<partition>/<uuid>.parquet.inprogress   staged files
    _commits/<commit>.json                            a commit record: every (temp, final) rename of
                                                      one batch run or one streaming bundle
    articles/ duplicates/ rejected/ feeds/ _index/records/   published files

A run (batch) or a bundle (streaming) publishes in four steps:

1. stage every file under ``_temporary/<run>/`` (no reader looks there unless a record names it);
2. **commit**: write the commit record ``_commits/<commit>.json`` in one atomic step (a local
   temp file renamed into place; on ``gs://`` one object upload, which is atomic).  From this
   instant the commit's rows count, for ``newsbeam query``, for dedup and for "already in output";
3. rename each staged file to its final name, data datasets first and the ``_index`` last;
4. delete the commit record (then the staged folder).

Readers (:func:`committed_files`, the only way newsbeam lists a dataset) see the published files
plus the staged files of every commit record still present, so a commit is visible whole at any
instant, even half renamed.  The next run into the same output calls :func:`recover` first: a
record still present is **rolled forward** (the remaining renames, idempotently: a staged file
already renamed is skipped); a staging folder with no record whose owner is gone is **rolled
back** (deleted: its files never counted).  Every file in a dataset folder therefore belongs to a
committed run, and an index row never names a record whose data is invisible.

On ``gs://`` a rename is copy + delete and nothing is atomic but a single object write; the
protocol needs nothing more: the record is one object, renames are repeatable (a copy done twice
gives the same object), and a staged object still there after its copy is simply copied again.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Optional, Sequence

from apache_beam.io.filesystems import FileSystems

from pipeline.sinks import faults

COMMITS_FOLDER = "_commits"
TEMPORARY_FOLDER = "_temporary"
OWNER_FILE = "_owner.json"
# Datasets renamed in this order: the index, which claims records as written, comes last.
PUBLISH_ORDER = ("articles", "duplicates", "rejected", "feeds", "index")
# Dataset folders and the depth of their files (partitioned datasets have one folder level).
DATASET_GLOBS = {
    "articles": ("articles", "*", "*.parquet"),
    "duplicates": ("duplicates", "*", "*.parquet"),
    "rejected": ("rejected", "*.parquet"),
    "feeds": ("feeds", "*", "*.parquet"),
    "pages": ("pages", "*", "*.parquet"),
    "index": ("_index", "records", "*.parquet"),
}
# A staging folder without a commit record is rolled back once its owner is known to be gone:
# a local process that no longer runs, or nothing written there for this long (another host,
# a managed runner).
STALE_AFTER_S = 24 * 3600


class CommitError(RuntimeError):
    """A commit record names a file that is neither staged nor published: data was lost
    outside newsbeam (never silently ignored)."""


@dataclass(frozen=True)
class StagedFile:
    dataset: str
    temp: str
    final: str
    rows: int


@dataclass
class Recovery:
    """What :func:`recover` did to earlier interrupted runs."""

    rolled_forward: list[dict] = field(default_factory=list)  # {"commit", "run", "files_renamed", "rows"}
    rolled_back: list[dict] = field(default_factory=list)  # {"run", "files_removed"}
    in_progress: list[str] = field(default_factory=list)  # staging folders of runs that may be alive

    @property
    def empty(self) -> bool:
        return not (self.rolled_forward or self.rolled_back)

    def as_dict(self) -> dict:
        return asdict(self)

    def render(self) -> list[str]:
        lines = []
        for item in self.rolled_forward:
            rows = ", ".join(f"{k} {v:,}" for k, v in sorted(item["rows"].items()) if v)
            lines.append(f"  recovered: rolled forward interrupted commit {item['commit']} "
                         f"({item['files_renamed']} of {item['files']} files still to publish; {rows or 'no rows'})")
        for item in self.rolled_back:
            lines.append(f"  recovered: rolled back run {item['run']} "
                         f"({item['files_removed']} uncommitted staged files removed; none had counted)")
        return lines


def _join(output: str, *parts: str) -> str:
    return FileSystems.join(output, *parts)


def _mkdirs(path: str) -> None:
    try:
        FileSystems.mkdirs(path)
    except IOError:
        pass  # already there


def _exists(path: str) -> bool:
    return FileSystems.exists(path)


def staging_folder(output: str, run_id: str) -> str:
    return _join(output, TEMPORARY_FOLDER, run_id)


def _write_atomically(path: str, data: bytes) -> None:
    """A whole object or nothing: written under a hidden name no glob matches, then renamed."""
    folder, name = path.rsplit("/", 1)
    _mkdirs(folder)
    temp = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}.inprogress"
    with FileSystems.create(temp) as handle:
        handle.write(data)
    FileSystems.rename([temp], [path])


def write_owner(output: str, run_id: str, runner: str) -> None:
    """Mark ``_temporary/<run>/`` as this process's (so a later run can tell if it died)."""
    document = {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(), "runner": runner,
                "started_at": datetime.now(timezone.utc).isoformat()}
    _write_atomically(_join(staging_folder(output, run_id), OWNER_FILE), json.dumps(document).encode("utf-8"))


def _record_path(output: str, commit_id: str) -> str:
    return _join(output, COMMITS_FOLDER, f"{commit_id}.json")


def _ordered(files: Iterable[StagedFile]) -> list[StagedFile]:
    rank = {name: i for i, name in enumerate(PUBLISH_ORDER)}
    return sorted(files, key=lambda f: (rank.get(f.dataset, len(rank)), f.final))


def write_commit(output: str, commit_id: str, run_id: str, files: Sequence[StagedFile],
                 removes: Sequence[str] = ()) -> str:
    """Step 2: the commit record (``removes``: published files the commit replaces, e.g. the small
    files a compaction merged).  Returns its path."""
    files = _ordered(files)
    rows: dict[str, int] = {}
    for f in files:
        rows[f.dataset] = rows.get(f.dataset, 0) + f.rows
    document = {
        "commit_id": commit_id,
        "run_id": run_id,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "rows": rows,
        "files": [asdict(f) for f in files],
        "removes": sorted(removes),
    }
    path = _record_path(output, commit_id)
    datasets = tuple(rows)
    faults.checkpoint("before_commit", datasets)
    _write_atomically(path, json.dumps(document, sort_keys=True).encode("utf-8"))
    faults.checkpoint("after_commit", datasets)
    return path


def _rename(staged: StagedFile) -> bool:
    """Move one staged file into place; ``False`` when an earlier attempt already did."""
    if not _exists(staged.temp):
        if _exists(staged.final):
            return False
        raise CommitError(f"{staged.final}: committed, but neither published nor staged at {staged.temp}")
    _mkdirs(staged.final.rsplit("/", 1)[0])
    try:
        FileSystems.rename([staged.temp], [staged.final])  # replaces a same-named file (POSIX rename, GCS copy)
    except Exception:  # noqa: BLE001 - a concurrent roll-forward may have moved it first: check, else re-raise
        if _exists(staged.temp) or not _exists(staged.final):
            raise
        return False
    return True


def publish(output: str, record_path: str, files: Sequence[StagedFile], removes: Sequence[str] = ()) -> int:
    """Steps 3 and 4: rename every staged file (idempotent), delete the files the commit replaces,
    then drop the record.  Returns how many files this call renamed."""
    renamed = 0
    datasets = tuple(sorted({f.dataset for f in files}))
    for staged in _ordered(files):
        if _rename(staged):
            renamed += 1
            faults.checkpoint("after_rename", (staged.dataset,))
    for path in removes:
        if _exists(path):
            FileSystems.delete([path])
            faults.checkpoint("after_remove", datasets)
    faults.checkpoint("before_forget", datasets)
    if _exists(record_path):
        FileSystems.delete([record_path])
    faults.checkpoint("after_forget", datasets)
    return renamed


def commit_and_publish(output: str, commit_id: str, run_id: str, files: Sequence[StagedFile],
                       removes: Sequence[str] = ()) -> int:
    """The whole protocol for one commit (a batch run, a streaming bundle, a compaction)."""
    faults.checkpoint("before_commit_step", tuple(sorted({f.dataset for f in files})))
    record = write_commit(output, commit_id, run_id, files, removes)
    return publish(output, record, files, removes)


def _read_json(path: str) -> dict:
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def _match(pattern: str) -> list:
    """Metadata of the files matching ``pattern`` (a missing folder matches nothing; every other
    file-system error is raised: a failing read of earlier output must never look like 'empty')."""
    return [m for result in FileSystems.match([pattern]) for m in result.metadata_list]


def pending_commits(output: str) -> list[dict]:
    """Commit records still present (committed, maybe not yet wholly published), oldest first."""
    records = []
    for meta in sorted(_match(_join(output, COMMITS_FOLDER, "*.json")), key=lambda m: m.path):
        try:
            records.append(_read_json(meta.path))
        except FileNotFoundError:
            continue  # published and forgotten between the listing and the read
    return records


def _staged(record: dict) -> list[StagedFile]:
    return [StagedFile(**f) for f in record["files"]]


@dataclass(frozen=True)
class CommittedFile:
    """A file that counts: ``path`` to read, ``fallback`` when a roll-forward moves it meanwhile."""

    path: str
    fallback: Optional[str] = None


def committed_files(output: str, dataset: str) -> list[CommittedFile]:
    """THE listing of a dataset for every reader in newsbeam: its published files plus the staged
    files of commits not yet wholly published.  Records are read before the folders are listed,
    so a file renamed in between is found in the folder."""
    records = pending_commits(output)
    pending = [f for record in records for f in _staged(record) if f.dataset == dataset]
    replaced = {path for record in records for path in record.get("removes", ())}
    published = {m.path for m in _match(_join(output, *DATASET_GLOBS[dataset]))} - replaced
    files = [CommittedFile(path) for path in sorted(published)]
    for staged in pending:
        if staged.final not in published:
            files.append(CommittedFile(staged.temp, staged.final))
    return files


def open_committed(file: CommittedFile):
    """Open a listed file (its final name if a roll-forward moved it after the listing)."""
    try:
        return FileSystems.open(file.path)
    except Exception:  # noqa: BLE001 - moved meanwhile? then the final name must be there
        if file.fallback and _exists(file.fallback):
            return FileSystems.open(file.fallback)
        raise


def _owner_gone(folder: str, files: list, now: float) -> bool:
    try:
        owner = _read_json(_join(folder, OWNER_FILE))
    except Exception:  # noqa: BLE001 - no (readable) owner file: judge by age alone
        owner = None
    if owner and owner.get("host") == socket.gethostname() and str(owner.get("runner", "")).endswith("DirectRunner"):
        return not _alive(int(owner["pid"]))
    newest = max((m.last_updated_in_seconds for m in files), default=0.0)
    return now - newest > STALE_AFTER_S


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _staging_folders(output: str) -> dict[str, list]:
    """Run id -> the files under ``_temporary/<run>/`` (object stores have no folders to list)."""
    root = _join(output, TEMPORARY_FOLDER)
    folders: dict[str, list] = {}
    for meta in _match(_join(root, "**")):
        relative = meta.path[len(root):].lstrip("/")
        if "/" in relative:
            folders.setdefault(relative.split("/", 1)[0], []).append(meta)
    return folders


def _delete_tree(folder: str, files: Sequence) -> None:
    if "://" in folder:  # an object store: delete the objects themselves
        if files:
            FileSystems.delete([m.path for m in files])
    elif _exists(folder):
        FileSystems.delete([folder])


def recover(output: str, current_run: Optional[str] = None) -> Recovery:
    """Roll every interrupted commit forward and every dead uncommitted run back (idempotent;
    safe while other jobs write to the same output)."""
    report = Recovery()
    committed_runs = set()
    for record in pending_commits(output):
        files = _staged(record)
        renamed = publish(output, _record_path(output, record["commit_id"]), files, record.get("removes", ()))
        committed_runs.add(record["run_id"])
        report.rolled_forward.append({"commit": record["commit_id"], "run": record["run_id"], "files": len(files),
                                      "files_renamed": renamed, "rows": record.get("rows", {})})
    now = time.time()
    for run, files in sorted(_staging_folders(output).items()):
        if run == current_run:
            continue
        if not _owner_gone(staging_folder(output, run), files, now):
            report.in_progress.append(run)  # maybe alive: its staged files do not count, and stay
            continue
        # Everything committed is published by now: what is left never counted (an uncommitted
        # run's files, or a committed run's failed bundle attempts).
        staged = [m for m in files if m.path.endswith(".inprogress")]
        _delete_tree(staging_folder(output, run), files)
        if staged:
            report.rolled_back.append({"run": run, "files_removed": len(staged)})
    _remove_if_empty(_join(output, TEMPORARY_FOLDER))
    _remove_if_empty(_join(output, COMMITS_FOLDER))
    return report


def remove_staging(output: str, run_id: str) -> None:
    """After a run's last commit: its staging folder (files of failed bundle attempts) goes."""
    folder = staging_folder(output, run_id)
    files = _match(_join(folder, "**")) if "://" in folder else []
    _delete_tree(folder, files)
    _remove_if_empty(_join(output, TEMPORARY_FOLDER))
    _remove_if_empty(_join(output, COMMITS_FOLDER))


def _remove_if_empty(folder: str) -> None:
    """Local folders only (object stores have none); ``rmdir`` refuses a folder another run has
    just put something in, so this never races with a concurrent writer."""
    if "://" not in folder:
        try:
            os.rmdir(folder)
        except OSError:
            pass
