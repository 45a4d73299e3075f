"""keep_freed_memory and KEEP_FREED_MEMORY_ENV: a freed large block is reused without page faults.

The reference is the kernel's own count of page faults (`getrusage`), measured in a
fresh interpreter for each case: the settings are process-wide and cannot be undone.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keraskit.training import KEEP_FREED_MEMORY_ENV, keep_freed_memory, memory

BLOCK = 64 * 2**20  # above glibc's largest mmap threshold (32 MiB): mmapped by default
PAGES = BLOCK // 4096

# `setup` runs first. Then another thread allocates (as a Jupyter kernel's threads have before
# the first cell), `late` runs, and a worker thread, like XLA's, allocates, writes and frees the
# same large block four times, counting the page faults each round costs. The module is loaded
# by its path, so that no Keras backend and none of its threads come with it.
SCRIPT = """
import ctypes, importlib.util, json, resource, threading
spec = importlib.util.spec_from_file_location("memory", {module!r})
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)
{setup}
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
faults = []

def rounds():
    for _ in range(4):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = libc.malloc({block})
        ctypes.memset(block, 1, {block})  # the first write to a page is what faults it in
        libc.free(block)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

other = threading.Thread(target=bytearray, args=(100_000,))
other.start()
other.join()
{late}
worker = threading.Thread(target=rounds)  # gets the other thread's heap, unless there is only one
worker.start()
worker.join()
print(json.dumps(faults))
"""

linux_glibc = pytest.mark.skipif(memory._glibc() is None, reason="mallopt is glibc's, on Linux")


def faults_per_round(setup="", env=None, late=""):
    script = textwrap.dedent(SCRIPT).format(setup=setup, late=late, block=BLOCK, module=memory.__file__)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(environment, **(env or {})),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def transparent_huge_pages_always():
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return path.exists() and "[always]" in path.read_text()


@linux_glibc
@pytest.mark.parametrize(
    "setup, env",
    [
        ("assert memory.keep_freed_memory()", None),
        ("", KEEP_FREED_MEMORY_ENV),
    ],
    ids=["keep_freed_memory", "KEEP_FREED_MEMORY_ENV"],
)
def test_a_freed_block_is_reused_without_page_faults(setup, env):
    kept = faults_per_round(setup, env)
    # The first round maps the memory; every later one reuses it: almost no faults.
    assert max(kept[1:]) < PAGES // 100, kept
    if not transparent_huge_pages_always():  # 2 MiB pages would fault 512 times less by default
        default = faults_per_round()
        # By default glibc gives the block back to the kernel, and every round faults every page in.
        assert min(default[1:]) > PAGES // 2, default


@linux_glibc
def test_a_call_after_other_threads_allocated_does_not_help_them():
    """Why tools/notebooks.py starts kernels with the environment variables instead."""
    late = faults_per_round(late="assert memory.keep_freed_memory()")  # glibc accepts, but too late
    if not transparent_huge_pages_always():
        assert min(late[1:]) > PAGES // 2, late


def test_nothing_changes_without_glibc(monkeypatch):
    calls = []
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: calls.append(name))
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert keep_freed_memory() is False
    assert calls == []  # not even loaded


@pytest.mark.parametrize("page", ["README.md", "docs/run.md"])
def test_the_documented_command_sets_the_same_variables(page):
    text = (Path(__file__).resolve().parent.parent / page).read_text()
    command = next(line for line in text.splitlines() if line.startswith("env MALLOC_"))
    assert dict(word.split("=", 1) for word in command.split() if "=" in word) == KEEP_FREED_MEMORY_ENV
