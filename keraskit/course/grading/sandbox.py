"""The sandbox a learner's notebook runs in under `keraskit grade`: bubblewrap plus resource limits.

Inside, the notebook's kernel (and the runner that drives it, `runner.py`) sees:

- no network (its own network namespace, loopback only);
- the Python environment read-only, with `keraskit.course.grading` replaced by a
  stub: no task, no reference implementation, no grader; `check` only says that
  grading is in progress. `solutions/`, the submissions, hidden tests and the
  reports are not mounted at all;
- its own scratch folder (`/grading`, the only writable place besides a private `/tmp`);
- its own PID namespace: it cannot see or signal the grader, and every process it
  starts dies with the sandbox;
- limits (rlimits) on address space, CPU time, processes, and file size; the grader
  kills the whole sandbox when the notebook's total time is up.

Example:

>>> limits = Limits(memory_gb=4, seconds=60)
>>> limits.seconds
60
"""

import dataclasses
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

INSTALL_HINT = (
    "keraskit grade runs each notebook in a bubblewrap sandbox, and bwrap is not available "
    "here. Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf "
    "install bubblewrap`; `make test` installs it when run as root), or pass --no-sandbox to "
    "run the notebooks unsandboxed, only for notebooks you trust."
)

# What a notebook imports as `keraskit.course.grading` inside the sandbox.
STUB = '''"""A stand-in for keraskit.course.grading while `keraskit grade` runs this notebook."""


class _Check:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def skipped(*args, **kwargs):
            print(f"{name}: not checked here (keraskit grade is grading this notebook)")

        return skipped


check = _Check()
'''

# Files of /etc a Python process needs (dynamic libraries, time zone, user names); the
# rest of /etc is not mounted.
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "alternatives",
    "fonts",
    "ssl",
)


class SandboxUnavailable(RuntimeError):
    """No working sandbox here: bwrap is missing or cannot create namespaces."""


@dataclasses.dataclass
class Limits:
    """What one notebook may use.

    Args:
        memory_gb: address space per process, in GiB (JAX, TensorFlow and PyTorch
            reserve several GiB of address space without using it).
        seconds: total wall time for the whole notebook (cells and tasks); the CPU time
            per process is limited to this many seconds on every core.
        processes: processes and threads the sandbox's user may run (RLIMIT_NPROC;
            as root, which that limit exempts, a pids cgroup where one can be made).
        file_mb: the largest file the notebook may write, in MiB.
    """

    memory_gb: float = 16
    seconds: float = 600
    processes: int = 4096
    file_mb: int = 256

    def rlimits(self):
        """`{name: value}` of the `resource.RLIMIT_*` limits these set.

        Example:

        >>> Limits(memory_gb=1, seconds=10, processes=64, file_mb=8).rlimits()["RLIMIT_FSIZE"]
        8388608
        """
        return {
            "RLIMIT_AS": int(self.memory_gb * 2**30),
            "RLIMIT_CPU": int(self.seconds * (os.cpu_count() or 1)) + 1,  # every core busy all the time
            "RLIMIT_FSIZE": self.file_mb * 2**20,
            "RLIMIT_CORE": 0,
            "RLIMIT_NPROC": self.processes,
        }

    def wrap(self, arguments, cgroup=None):
        """`arguments` prefixed with a Python one-liner that sets the limits, then execs them.

        Not a `preexec_fn`: forking a multithreaded grader (JAX, TensorFlow) to run Python
        before exec can deadlock; this sets them in a fresh process instead. With
        `cgroup` (a folder from `pids_cgroup`), the process joins it first.
        """
        join = (
            f"open({str(Path(cgroup) / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n" if cgroup else ""
        )
        code = (
            "import os, resource, sys\n" + join + f"for name, value in {self.rlimits()!r}.items():\n"
            "    hard = resource.getrlimit(getattr(resource, name))[1]\n"
            "    value = value if hard == resource.RLIM_INFINITY else min(value, hard)\n"
            "    resource.setrlimit(getattr(resource, name), (value, value))\n"
            "os.execvp(sys.argv[1], sys.argv[1:])\n"
        )
        return [sys.executable, "-c", code, *arguments]


def pids_cgroup(limit):
    """A new cgroup that caps its processes and threads at `limit`, or None where none can be made.

    Linux does not apply RLIMIT_NPROC to root, so when the grader runs as root the
    sandbox joins a `pids` cgroup instead (cgroup v1 `/sys/fs/cgroup/pids`, or v2 with
    the pids controller). Remove it with `remove_cgroup` once the sandbox is gone.
    """
    if os.geteuid() != 0:
        return None
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        try:
            if base.name != "pids" and "pids" not in (base / "cgroup.subtree_control").read_text():
                continue
            folder = Path(tempfile.mkdtemp(prefix="keraskit-grade-", dir=base))
        except OSError:
            continue
        try:
            (folder / "pids.max").write_text(str(limit))
            return folder
        except OSError:
            remove_cgroup(folder)
    return None


def remove_cgroup(folder):
    """Removes a cgroup made by `pids_cgroup` (empty once the sandbox's processes are gone)."""
    for _ in range(50):  # the kernel may take a moment to reap the last process
        try:
            os.rmdir(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def bwrap_path():
    """The bwrap executable, or None."""
    return shutil.which("bwrap")


def check_available():
    """Raises `SandboxUnavailable`, saying how to install one, unless bwrap works here.

    It starts a trivial sandbox (a fraction of a second), so a missing bwrap or
    disabled user namespaces are reported before any notebook runs.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(INSTALL_HINT)
    probe = subprocess.run(
        [bwrap, "--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        raise SandboxUnavailable(
            f"bwrap is installed but cannot create a sandbox here ({probe.stderr.strip()[:200]}): "
            "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1). "
            + INSTALL_HINT.split(". ", 1)[1]
        )


def _python_paths():
    """Folders of the Python environment to mount read-only: prefixes and site-packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(site.getsitepackages())
    paths.add(sysconfig.get_paths()["stdlib"])
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(path for path in paths if Path(path).is_dir())


def write_stub(folder):
    """Writes what the sandbox mounts over `keraskit.course.grading`: the stub and the runner."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(STUB)
    shutil.copy(Path(__file__).with_name("runner.py"), folder / "runner.py")
    return folder


def command(work, stub, environment):
    """The bwrap command line that runs the runner on `work` (mounted at /grading).

    Args:
        work: the scratch folder (job, notebook, inputs; the outputs are written there).
        stub: a folder from `write_stub`, mounted over the grading package.
        environment: the variables the kernel gets (nothing else of the grader's).
    """
    import keraskit

    package = Path(keraskit.__file__).resolve().parent
    arguments = [
        bwrap_path(),
        "--unshare-all",  # user, PID, network, IPC, UTS and cgroup namespaces
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    # The private /tmp first: the binds below go on top of it, so an environment or a package
    # that lives under /tmp (a checkout in /tmp, say) stays visible.
    arguments += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for name in ("bin", "lib", "lib64", "lib32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    for name in ETC:
        arguments += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in _python_paths():
        arguments += ["--ro-bind", path, path]
    arguments += ["--ro-bind", str(package), str(package)]
    arguments += ["--ro-bind", str(stub), str(package / "course" / "grading")]
    arguments += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    arguments += ["--bind", str(work), "/grading", "--chdir", "/grading"]
    environment = {"HOME": "/grading", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", **environment}
    for key, value in environment.items():
        arguments += ["--setenv", key, value]
    # Run as a script, not `-m`: importing keraskit (and Keras) first would only cost time.
    arguments += [sys.executable, str(package / "course" / "grading" / "runner.py"), "/grading"]
    return arguments


def run(arguments, limits, log):
    """Runs `arguments` under `limits`; kills everything when `limits.seconds` are up.

    Returns `True` if it finished in time, `False` if it was killed. When it returns,
    no process of it is left: the sandbox's PID namespace dies with its first process.
    """
    cgroup = pids_cgroup(limits.processes)
    try:
        return _run(arguments, limits, log, cgroup)
    finally:
        if cgroup:
            remove_cgroup(cgroup)


def _run(arguments, limits, log, cgroup):
    with open(log, "wb") as output:
        process = subprocess.Popen(
            limits.wrap(arguments, cgroup),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=output,
            start_new_session=True,
        )
        try:
            process.wait(timeout=limits.seconds)
            return True
        except subprocess.TimeoutExpired:
            return False
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
