"""Flex Template entry point: the launcher runs this file with the template parameters as flags."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
