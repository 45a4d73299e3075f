"""Keep the memory a training step frees, so the next step need not fault it in again.

Why a CPU training step can spend half its time in the kernel: on Linux, glibc's
`malloc` serves a large block with a fresh `mmap` and hands it back to the kernel
with `munmap` as soon as it is freed. XLA's CPU runtime (JAX) allocates a training
step's temporary buffers anew on every call and frees them at its end, so every
step maps tens of megabytes again, and the kernel zero-fills each 4 KiB page the
first time it is written. On the 2-core machine the course is measured on, the ViT of
`bench/cpu_training.py` (7x7 patches, 4 blocks, batch 256) paid 32,345 page faults
(130 MB) per training step on JAX, plain PyTorch 47 (the benchmark prints the faults
per step); lesson 09's conv-stem ViT at batch 256 paid about 20,000, and 48 to 75 ms of
kernel time, per step on JAX in a separate measurement.

glibc keeps freed memory when it has one heap for all threads, never serves a block
with `mmap`, and gives nothing back below a large free size (`man 3 mallopt`). The
cost: the process's resident memory stays at its peak until it exits. There are
two ways to ask for it, because glibc fixes its number of heaps when a second
thread first allocates, and a Jupyter kernel has several threads before any
cell runs:

- `KEEP_FREED_MEMORY_ENV`: environment variables for a process about to start
  (a Jupyter server and its kernels, a script). `tools/notebooks.py` starts the
  lessons' kernels with them.
- `keep_freed_memory()`: the same for the running process, effective only for
  threads that first allocate after the call: in a script, call it before the first
  computation (JAX starts the threads that run a compiled step then).

This module imports only the standard library: `tools/notebooks.py` loads it by its
path, without importing keraskit (and so Keras).
"""

import ctypes
import sys

# mallopt's parameters, from glibc's <malloc.h>, and what they are set to: one heap, no block
# ever served by mmap, nothing given back while less than 1 GiB is free, the heap grown 64 MiB
# at a time. (With a heap per thread, a thread's heap holds at most 64 MiB, and a larger block
# is mmapped whatever the settings.)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX = -1, -2, -4, -8
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**30), (M_TOP_PAD, 64 * 2**20))

# The same settings as glibc reads them from the environment of a process when it starts.
KEEP_FREED_MEMORY_ENV = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": str(2**30),
    "MALLOC_TOP_PAD_": str(64 * 2**20),
}


def _glibc():
    """The C library of this process if it is glibc (the only one with these settings), else None."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None)  # the libraries already loaded into this process
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl (e.g. Alpine) has no gnu_get_libc_version and ignores mallopt
    return libc


def keep_freed_memory():
    """Makes this process keep the memory it frees instead of giving it back to the OS.

    Call it in a script that trains on a CPU with JAX, before the first computation
    (JAX starts the threads that run a compiled step then): glibc fixes its number
    of heaps when a second thread first allocates, and a thread keeps the heap it
    was given, so threads that allocated before the call are not helped. glibc
    still accepts the settings then, so True does not mean that it helped. In a
    Jupyter kernel it is too late: start the kernel with `KEEP_FREED_MEMORY_ENV`. Freed
    buffers are then reused by the next training step without a page fault per
    4 KiB. It changes how `malloc` behaves in the whole process, never what is
    computed; the resident memory stays at the largest the process has needed.

    It acts only on Linux with glibc; elsewhere (macOS, Windows, musl) it changes
    nothing and returns False.

    Returns:
        True when glibc accepted every setting, else False.

    Example:

    >>> import sys
    >>> from keraskit.training import keep_freed_memory
    >>> keep_freed_memory() == sys.platform.startswith("linux")  # glibc, as on most Linux machines
    True
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    # mallopt returns 1 on success, 0 on error, so every setting is checked.
    return all([libc.mallopt(parameter, value) == 1 for parameter, value in SETTINGS])
