"""`python -m reportgen` runs the same command line as the `reportgen` script.

It is also how torch's launcher starts each rank of a `--nproc` run (and how `torchrun
-m reportgen` starts one). Every rank dies with its launcher, SIGKILL included
(`distributed.die_with_launcher`): a run whose launcher is gone neither holds the output
folder's lock nor publishes. A rank other than 0 that the launcher stops (it forwards
SIGINT or SIGTERM to every rank) before the command's own signal handling is in place,
while it is still importing, ends quietly with 128 + the signal: rank 0 says why the run
stopped, once, and nothing of this rank's is written yet.
"""

import os
import signal

if os.environ.get("WORLD_SIZE"):
    if os.environ.get("RANK", "0") != "0":
        for _sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(_sig, lambda signum, frame: os._exit(128 + signum))

    from reportgen.train.distributed import die_with_launcher

    die_with_launcher()

from reportgen.cli import main  # noqa: E402  (after the handlers: the import is the window they cover)

if __name__ == "__main__":
    main()
