/* apctl — --events: the event stream, one JSON object per line.
 * SPDX-License-Identifier: MIT
 *
 * Every event of a pull (every job of a pull of several references) is
 * written to stderr as one line of JSON, as the library builds it with
 * jansson (ap_event_to_json: the format of apd's
 * event streams, docs/daemon.md "Event JSON"), and flushed at once, so a
 * reader sees each event when it happens.  Each object carries "job", the
 * job id (1, 2, ... in the order of the references).  Lines of the stream
 * start with '{'; the other lines of stderr are apctl's messages.
 * docs/apctl.md "The event stream" and man/apctl.1 describe the fields. */
#include "apctl.h"

static int write_line(FILE *f, int rc, char *line)
{
    flockfile(f);
    if (rc == AP_OK && line)
        fprintf(f, "%s\n", line);
    else /* jansson could not build it: say so, in the stream's own form */
        fputs("{\"event\":\"unrepresentable\"}\n", f);
    fflush(f);
    funlockfile(f);
    ap_free(line);
    return rc;
}

int events_write(FILE *f, const ap_event *ev)
{
    char *line = NULL;
    int rc = ap_event_to_json(ev, &line);
    return write_line(f, rc, line);
}
