/* libartifactprov — cancellation token.  SPDX-License-Identifier: MIT
 *
 * An atomic flag plus a non-blocking pipe: ap_cancel() sets the flag and
 * writes one byte, which is async-signal-safe and wakes any poll() (the
 * engine passes the read end to curl_multi_poll as an extra fd). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct ap_cancel_token {
    atomic_int set;
    int fds[2];
};

AP_EXPORT ap_cancel_token *ap_cancel_token_new(void)
{
    ap_cancel_token *t = apx_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    atomic_init(&t->set, 0);
    if (pipe2(t->fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

AP_EXPORT void ap_cancel_token_free(ap_cancel_token *token)
{
    if (!token)
        return;
    close(token->fds[0]);
    close(token->fds[1]);
    free(token);
}

AP_EXPORT void ap_cancel(ap_cancel_token *token)
{
    int saved = errno;
    if (!token)
        return;
    if (atomic_exchange(&token->set, 1) == 0) {
        ssize_t w;
        do
            w = write(token->fds[1], "x", 1);
        while (w < 0 && errno == EINTR);
    }
    errno = saved;
}

AP_EXPORT int ap_cancel_is_set(const ap_cancel_token *token)
{
    return token ? atomic_load(&((ap_cancel_token *)token)->set) : 0;
}

AP_EXPORT void ap_cancel_reset(ap_cancel_token *token)
{
    char buf[16];
    if (!token)
        return;
    while (read(token->fds[0], buf, sizeof buf) > 0)
        ;
    atomic_store(&token->set, 0);
}

AP_EXPORT int ap_cancel_token_fd(const ap_cancel_token *token)
{
    return token ? token->fds[0] : -1;
}
