/* A server a unit test starts (t/fixtures/fakehub.py, a python -c server)
 * must not outlive the test binary: if the binary aborts (an assertion, a
 * sanitizer report) or is killed, an orphaned server keeps the stderr pipe
 * it inherited from prove open, and prove waits for that pipe forever.
 * Call ct_tie_to_parent(parent) in the child between fork() and exec():
 * the kernel sends the child SIGTERM when the parent dies
 * (PR_SET_PDEATHSIG; fakehub.py stops on SIGTERM), and a parent that died
 * before the prctl is caught by the getppid() check.  The fixtures also
 * give fakehub.py --stdin-watch on a pipe whose write end is close-on-exec,
 * so the hub sees EOF when the test binary is gone even if the signal were
 * lost.  t/integration/hub_orphan.t kills a test binary with SIGKILL and
 * checks that its hubs go and the output pipe closes.
 * SPDX-License-Identifier: MIT */
#ifndef AP_T_CHILD_TIE_H
#define AP_T_CHILD_TIE_H

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

static __attribute__((unused)) void ct_tie_to_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(126);
}

/* A pipe for --stdin-watch: fds[0] becomes the child's stdin, fds[1] stays
 * in the test binary, close-on-exec so no program it runs holds it. */
static __attribute__((unused)) int ct_watch_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    if (fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    return 0;
}

#endif
