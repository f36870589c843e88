"""Flex Template entry point: the launcher runs this file with the template parameters as flags.

``--no-wait``: the launcher's part ends once Dataflow has accepted the job (a streaming job never
ends, a batch job may run for hours); it prints "submitted" and the job id, never a count."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--no-wait", *sys.argv[1:]]))
