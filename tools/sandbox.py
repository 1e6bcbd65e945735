"""Run untrusted Python (model-written code) in a separate, fenced process.

    from tools.sandbox import run_python
    result = run_python("print(sum(range(10)))", timeout=5)
    result.status, result.stdout        # ('passed', '45\\n')
    run_python("import socket; socket.create_connection(('1.1.1.1', 53))").status   # 'blocked'

The code runs in a fresh interpreter (`python -I -B`) whose working directory and HOME are a
throwaway folder, removed afterwards. Layers, each independent of the others, so a gap in one is
covered by the next:

1. operating-system limits set before the code starts (`resource.setrlimit`): CPU seconds
   (RLIMIT_CPU), address space (RLIMIT_AS), processes (RLIMIT_NPROC), size of any file written
   (RLIMIT_FSIZE), no core dumps, few open files; and a wall-clock deadline after which the
   parent kills the child's whole process group;
2. when the parent runs as root, the child drops to the `nobody` user (so it cannot write or
   read anything the system does not let everyone write or read, and RLIMIT_NPROC applies);
3. its own network namespace (`unshare(CLONE_NEWNET)`, or a user namespace first when not root)
   where the kernel allows it: no interfaces, so no connection anywhere, loopback included;
4. a CPython audit hook (PEP 578) installed before the code runs: sockets, process creation
   (fork, exec, subprocess, os.system), signals to other processes, ctypes, and any write,
   delete, rename or permission change outside the throwaway folder end the process at once;
   reads are allowed only inside the Python installation and the throwaway folder.

PEP 578 says audit hooks are not a sandbox on their own (C extensions can bypass them), which is
why layers 1-3 exist; `SandboxResult.layers` says which were in force for a given run. What
the layers do not give: a generation can still fake its own pass (it runs in the process that
reports), as in the reference HumanEval harness.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534
EXIT_BLOCKED = 86
EXIT_FAILED = 1
OUTPUT_LIMIT = 4000  # characters of stdout/stderr kept in a result

# The child's first code: fence itself, then run the program. Runs under `python -I -B -c`.
_BOOTSTRAP = r'''
import json, os, resource, sys
program, report_fd, limits = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
box = os.path.realpath(os.getcwd())
layers = {}

def report(kind, **fields):
    os.write(report_fd, (json.dumps({"event": kind, **fields}) + "\n").encode())

drop_user = os.geteuid() == 0 and limits["drop_user"]
layers.update(network_namespace=False, pid_namespace=False, read_only_filesystem=False, unprivileged_user=False)
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    if drop_user:  # root that can become nobody: a network namespace, then nobody's rights
        layers["network_namespace"] = libc.unshare(0x40000000) == 0  # CLONE_NEWNET
        layers["pid_namespace"] = libc.unshare(0x20000000) == 0  # CLONE_NEWPID
    elif libc.unshare(0x10000000 | 0x20000 | 0x40000000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET
        layers["network_namespace"] = True
        layers["pid_namespace"] = libc.unshare(0x20000000) == 0  # CLONE_NEWPID (for children, see below)
        uid, gid = os.geteuid(), os.getegid()
        try:
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        except OSError:
            pass
        # every mount read-only except the throwaway folder (MS_REC|MS_PRIVATE, MS_BIND, MS_REMOUNT|MS_BIND|MS_RDONLY)
        if libc.mount(None, b"/", None, 16384 | (1 << 18), None) == 0 and \
                libc.mount(box.encode(), box.encode(), None, 4096 | 16384, None) == 0:
            with open("/proc/self/mountinfo") as fh:
                points = [line.split()[4].replace("\\040", " ") for line in fh]
            failed = [p for p in points if p != box and libc.mount(None, p.encode(), None, 32 | 4096 | 1, None) != 0]
            os.chdir(box)  # onto the writable bind mount, not the read-only folder beneath it
            layers["read_only_filesystem"] = "/" not in failed and os.access(box, os.W_OK)
    del libc, ctypes
except Exception:
    pass
for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
    del sys.modules[name]

if layers["pid_namespace"]:
    # The code runs in a child that is process 1 of a new PID namespace: no process outside it
    # (this evaluator included) can be seen or signalled, and everything it starts dies with it.
    # This process only waits and passes the child's fate on.
    child = os.fork()
    if child:
        import signal
        _, status = os.waitpid(child, 0)
        if os.WIFSIGNALED(status):
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
            os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)

if drop_user:
    os.setgroups([])
    os.setgid(limits["uid"])
    os.setuid(limits["uid"])
    layers["unprivileged_user"] = os.geteuid() != 0

mb = 1024 * 1024
for which, value in ((resource.RLIMIT_CPU, limits["cpu_seconds"]), (resource.RLIMIT_AS, limits["memory_mb"] * mb),
                     (resource.RLIMIT_FSIZE, limits["file_mb"] * mb), (resource.RLIMIT_NPROC, 1),
                     (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 64)):
    resource.setrlimit(which, (value, value))
layers["rlimits"] = True

import sysconfig
READ_ROOTS = tuple(sorted({os.path.realpath(p) for p in sysconfig.get_paths().values()}
                          | {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), box, "/dev/null"}))
DENY_ALWAYS = ("socket.", "subprocess.", "os.fork", "os.forkpty", "os.exec", "os.spawn", "os.posix_spawn",
               "os.system", "os.kill", "os.killpg", "signal.pthread_kill", "pty.", "ctypes.", "resource.setrlimit",
               "resource.prlimit", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
               "sys._current_frames", "os.setuid", "os.setgid", "mmap.", "winreg.", "webbrowser.", "urllib.")
WRITE_EVENTS = ("os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.truncate", "os.chmod", "os.chown",
                "os.link", "os.symlink", "os.utime", "os.setxattr", "os.removexattr", "shutil.rmtree",
                "shutil.copyfile", "shutil.copytree", "shutil.move", "shutil.chown")
DIR_EVENTS = ("os.listdir", "os.scandir")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def inside(path, roots, realpath=os.path.realpath, fsdecode=os.fsdecode, fspath=os.fspath):
    if isinstance(path, int):
        return True  # an already open descriptor
    real = realpath(fsdecode(fspath(path)))
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)

def deny(event, detail, write=os.write, fd=report_fd, dumps=json.dumps, exit=os._exit):
    write(fd, (dumps({"event": "blocked", "what": event, "detail": str(detail)[:300]}) + "\n").encode())
    exit(86)

# Everything the hook needs is bound as a default, so rebinding a module global changes nothing.
def hook(event, args, box=box, READ_ROOTS=READ_ROOTS, DENY_ALWAYS=DENY_ALWAYS, WRITE_EVENTS=WRITE_EVENTS,
         DIR_EVENTS=DIR_EVENTS, WRITE_FLAGS=WRITE_FLAGS, inside=inside, deny=deny):
    if event.startswith(DENY_ALWAYS):
        deny(event, args[:2] if isinstance(args, tuple) else args)
    elif event == "import" and args and str(args[0]).split(".")[0] in ("ctypes", "_ctypes", "_posixsubprocess"):
        deny(event, args[0])
    elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
        deny(event, args[1])
    elif event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        writes = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
        if path is not None and not inside(path, (box,) if writes else READ_ROOTS + ("/dev/urandom",)):
            deny(event, f"{path!r} mode={mode!r}")
    elif event in WRITE_EVENTS:
        paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
        if event == "os.symlink":
            paths = paths[1:2]
        if any(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in args[len(paths):]):
            deny(event, "dir_fd")
        for p in paths:
            if not inside(p, (box,)):
                deny(event, p)
    elif event in DIR_EVENTS and args and args[0] is not None and not inside(args[0], READ_ROOTS):
        deny(event, args[0])

layers["audit_hook"] = limits["audit_hook"]
report("layers", **layers)
if limits["audit_hook"]:
    sys.addaudithook(hook)
del hook, deny, inside  # not reachable from the program's frames afterwards
try:
    with open(program, encoding="utf-8") as fh:
        source = fh.read()
    exec(compile(source, program, "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    os._exit(code)
except MemoryError:
    sys.stderr.write("MemoryError\n")
    sys.stderr.flush()
    os._exit(1)
except BaseException as exc:
    import traceback
    traceback.print_exc()
    sys.stderr.flush()
    os._exit(1)
sys.stdout.flush()
os._exit(0)
'''


@dataclass
class SandboxResult:
    """What one run did. `status` is one of: passed (exit 0), failed (an exception or a nonzero
    exit), sandbox_error (the fence itself could not be set up; stderr says why), blocked (an action the sandbox forbids; `blocked` names it), timeout (wall clock or
    CPU limit), memory (the address-space limit), file_limit (a file grew past the limit),
    crashed (killed by another signal)."""

    status: str
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    blocked: list[dict] = field(default_factory=list)
    layers: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict:
        return {"status": self.status, "returncode": self.returncode, "stdout": self.stdout, "stderr": self.stderr,
                "blocked": self.blocked, "layers": self.layers, "seconds": round(self.seconds, 3)}


def _readable_by_everyone(python: str) -> bool:
    """Whether the `nobody` user could run this Python: its installation, standard library and
    site-packages readable by others (not so for a pyenv under /root, for example)."""
    import sysconfig

    folders = {Path(python).resolve().parent, Path(sys.base_prefix), *map(Path, sysconfig.get_paths().values())}
    for folder in folders:
        for part in (folder, *folder.parents):
            try:
                if part.exists() and part.stat().st_mode & 0o005 != 0o005:
                    return False
            except OSError:
                return False
    return True


def _status(returncode: int | None, timed_out: bool, blocked: list, stderr: str, started: bool = True) -> str:
    if not started:
        return "sandbox_error"
    if timed_out or returncode == -signal.SIGXCPU:
        return "timeout"
    if blocked or returncode == EXIT_BLOCKED:
        return "blocked"
    if returncode == -signal.SIGXFSZ or "File too large" in stderr:
        return "file_limit"
    if returncode == 0:
        return "passed"
    if "MemoryError" in stderr:
        return "memory"
    if returncode is not None and returncode < 0:
        return "crashed"
    return "failed"


def _read(path: Path) -> str:
    with open(path, "rb") as fh:
        return fh.read(OUTPUT_LIMIT).decode("utf-8", errors="replace")


def run_python(source: str, *, timeout: float = 10.0, memory_mb: int = 1024, file_mb: int = 8,
               cpu_seconds: int | None = None, python: str | None = None, audit_hook: bool = True) -> SandboxResult:
    """Run `source` as a program in the sandbox and say what happened (never raises for
    anything the code does). `audit_hook=False` leaves only the operating-system layers (tests
    use it to show that each layer holds on its own)."""
    if timeout <= 0 or memory_mb < 64 or file_mb < 1:
        raise ValueError("run_python needs timeout > 0, memory_mb >= 64 and file_mb >= 1 "
                         f"(got timeout={timeout}, memory_mb={memory_mb}, file_mb={file_mb}).")
    cpu = int(cpu_seconds or max(1, round(timeout)))
    python = python or sys.executable
    drop_user = os.geteuid() == 0 and _readable_by_everyone(python)
    limits = {"cpu_seconds": cpu, "memory_mb": memory_mb, "file_mb": file_mb, "uid": NOBODY, "drop_user": drop_user,
              "audit_hook": audit_hook}
    box = Path(tempfile.mkdtemp(prefix="hearth-sandbox-"))
    private = Path(tempfile.mkdtemp(prefix="hearth-sandbox-io-"))  # outputs, out of the child's reach
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    timed_out = False
    try:
        program = box / "program.py"
        program.write_text(source, encoding="utf-8")
        if drop_user:
            os.chown(box, NOBODY, NOBODY)
            os.chown(program, NOBODY, NOBODY)
        env = {"HOME": str(box), "TMPDIR": str(box), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
        with open(private / "stdout", "wb") as out, open(private / "stderr", "wb") as err:
            proc = subprocess.Popen(
                [python, "-I", "-B", "-c", _BOOTSTRAP, str(program), str(write_fd), json.dumps(limits)],
                cwd=box, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, pass_fds=(write_fd,),
                start_new_session=True, close_fds=True)
            os.close(write_fd)
            write_fd = -1
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the whole group, whatever it started
                except ProcessLookupError:
                    pass
                proc.wait()
        with os.fdopen(read_fd, "rb") as fh:
            read_fd = -1
            lines = fh.read(65536).decode("utf-8", errors="replace").splitlines()
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        layers = next(({k: v for k, v in e.items() if k != "event"} for e in events if e.get("event") == "layers"), {})
        blocked = [{k: v for k, v in e.items() if k != "event"} for e in events if e.get("event") == "blocked"]
        stdout, stderr = _read(private / "stdout"), _read(private / "stderr")
        returncode = None if timed_out else proc.returncode
        layers.update({"separate_process": True, "throwaway_cwd": True, "wall_clock_kill": True})
        status = _status(returncode, timed_out, blocked, stderr, started="layers" in {e.get("event") for e in events})
        return SandboxResult(status, returncode, stdout, stderr, blocked,
                             layers, time.perf_counter() - started)
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(box, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
