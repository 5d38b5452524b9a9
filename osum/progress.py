"""Progress bars for long steps (dump, synthesis, decoding).

On a terminal the bar redraws every second; in a job's log file (stderr is not a
terminal) it writes a line every 30 seconds, so logs show progress without filling up.
``OSUM_PROGRESS=0`` turns the bars off.
"""

import os
import sys

from tqdm import tqdm


def progress(total: int, desc: str, unit: str = "utt") -> tqdm:
    tty = sys.stderr.isatty()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        mininterval=1.0 if tty else 30.0,
        ascii=not tty,
        disable=os.environ.get("OSUM_PROGRESS", "1") == "0",
    )
