#!/usr/bin/env python3
"""Run a command under a pseudo-terminal of COLS columns, resize it to
NEWCOLS (TIOCSWINSZ + SIGWINCH) once the output has shown a progress bar,
and report what was rendered before and after the resize.

usage: pty_progress.py COLS NEWCOLS OUT.json -- COMMAND...

OUT.json: {"status": exit status, "before": [lines], "after": [lines]}
where a "line" is what lies between two carriage returns, newlines or
escape sequences (CSI ... letter) -- the longest text the terminal had to
fit on one row.  Reads until the command exits (no timing)."""
import fcntl, json, os, pty, re, signal, struct, sys, termios

cols, newcols, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cmd = sys.argv[sys.argv.index("--") + 1:]

def setsize(fd, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, c, 0, 0))

pid, fd = pty.fork()
if pid == 0:
    setsize(0, cols)
    os.execvp(cmd[0], cmd)
setsize(fd, cols)
before, after, resized = b"", b"", False
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    if resized:
        after += chunk
    else:
        before += chunk
        # a bar was drawn: resize now (the kernel sends SIGWINCH to the
        # terminal's foreground process group; say it to the child too)
        if b"[#" in before or b"[." in before:
            setsize(fd, newcols)
            os.kill(pid, signal.SIGWINCH)
            resized = True
_, status = os.waitpid(pid, 0)

def lines(b):
    t = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"\n", b)
    return [s.decode("utf-8", "replace") for s in re.split(rb"[\r\n]", t) if s]

json.dump({"status": os.waitstatus_to_exitcode(status), "resized": resized,
           "before": lines(before), "after": lines(after)}, open(out, "w"))
