"""What every benchmark script shares: the machine it ran on, medians, and the printed table.

Each script prints one Markdown table (pasted as is into bench/README.md), then one
last line with its key ratio, so `tail -1` gives the headline.
"""

import datetime
import os
import platform
import statistics
import subprocess
import sys


def machine():
    """One line naming the accelerator (or CPU), for the table's caption."""
    try:
        gpu = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
            .stdout.strip()
            .splitlines()
        )
    except (OSError, subprocess.SubprocessError):
        gpu = []
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    where = f"{len(gpu)} x {gpu[0]}" if gpu else f"CPU only: {os.cpu_count()} cores of {cpu}"
    return f"{where}; Python {platform.python_version()}"


def caption(title):
    """The lines printed above a table: what, where, when, and the command that gave it."""
    command = " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])
    today = datetime.date.today().isoformat()
    return f"### {title}\n\n`python {command}`: {machine()}, {today}.\n"


def median(values):
    return statistics.median(values)


def markdown_table(rows, columns):
    """Rows (dicts) as a Markdown table with the given columns, in that order."""

    def cell(value):
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def versions(*modules):
    """`name version` of each importable module, for the table's caption."""
    found = []
    for name in modules:
        try:
            module = __import__(name)
            found.append(f"{name} {module.__version__}")
        except ImportError:
            continue
    return ", ".join(found)
