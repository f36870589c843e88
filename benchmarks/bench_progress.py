"""What live progress costs: the same job with ``--quiet``, with progress as log lines (not a
terminal) and on a terminal (through ``script``, a pseudo-terminal), alternating for ``--rounds``
rounds so that all three see the same machine load.

    .venv/bin/python benchmarks/bench_progress.py [--scale 10] [--rounds 2]

Corpus: BBC x``scale`` in one JSONL file (``corpus.py``, shape one-jsonl), ``--no-tagging``, one
worker.  Prints the wall time of every run; saves benchmarks/results/progress-<time>.json.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import build_shape, save_result  # noqa: E402

ROOT = HERE.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bbc", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    args = parser.parse_args()
    if shutil.which("script") is None:
        sys.exit("needs script(1) (util-linux) for the terminal mode")
    folder = build_shape(args.bbc, args.scale, HERE / "data", "one-jsonl")
    newsbeam = str(ROOT / ".venv" / "bin" / "newsbeam")
    rows = []
    for round_ in range(1, args.rounds + 1):
        for mode in ("quiet", "log lines", "terminal"):
            out = Path(tempfile.mkdtemp(prefix="nb-progress-")) / "out"
            cmd = [newsbeam, "run", "--input", f"{folder}/*", "--output", str(out), "--no-tagging"]
            if mode == "quiet":
                cmd.append("--quiet")
            started = time.perf_counter()
            if mode == "terminal":
                subprocess.run(["script", "-qec", " ".join(cmd), "/dev/null"], check=True, capture_output=True)
            else:
                subprocess.run(cmd, check=True, capture_output=True)
            wall = time.perf_counter() - started
            rows.append({"round": round_, "mode": mode, "wall_s": round(wall, 2)})
            print(f"round {round_}  {mode:<10} {wall:6.1f} s", flush=True)
            shutil.rmtree(out.parent, ignore_errors=True)
    print(f"saved {save_result('progress', {'scale': args.scale, 'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
