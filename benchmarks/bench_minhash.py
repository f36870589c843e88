"""Cost of MinHash per article, this checkout against an earlier commit, side by side.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_minhash.py [--base 6dd072f] [--rounds 5]

Times ``signature()`` + ``band_keys()`` + ``sketch()`` (what every article costs in dedup) on
the BBC texts with both versions of ``pipeline/dedup/minhash.py`` in one process, alternating
rounds so that a noisy machine slows both alike; CPU time of this process (other processes on a
shared machine do not count), the best round per article and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import DEFAULT_BBC, bbc_files  # noqa: E402


def load_version(commit: str, folder: Path):
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:pipeline/dedup/minhash.py"],
                            capture_output=True, text=True, check=True).stdout
    path = folder / f"minhash_{commit}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"minhash_{commit}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def per_article(module, texts: list[str]) -> float:
    hasher = module.MinHasher()
    started = time.process_time()
    for text in texts:
        signature = hasher.signature(text)
        if signature is not None:
            hasher.band_keys(signature)
            module.sketch(signature)
    return (time.process_time() - started) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    parser.add_argument("--base", default="6dd072f", help="commit to compare with")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    texts = []
    for path in bbc_files(args.bbc):
        raw = path.read_bytes()
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(raw.decode("latin-1"))
    import pipeline.dedup.minhash as current

    with tempfile.TemporaryDirectory() as tmp:
        base = load_version(args.base, Path(tmp))
        times = {"base": [], "current": []}
        for _ in range(args.rounds):
            times["base"].append(per_article(base, texts))
            times["current"].append(per_article(current, texts))
    b, c = min(times["base"]), min(times["current"])
    keys = len(current.MinHasher().band_keys(current.MinHasher().signature(texts[0])))
    print(f"{len(texts)} BBC texts, {args.rounds} alternating rounds, best CPU time per article (signature + band keys + sketch):")
    print(f"  {args.base}: {b * 1e6:.0f} µs   this checkout: {c * 1e6:.0f} µs   ratio {c / b:.2f}   "
          f"band keys per article {base.MinHashConfig().bands} -> {keys}")


if __name__ == "__main__":
    main()
