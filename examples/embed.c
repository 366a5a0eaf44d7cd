/* embed.c — the smallest useful daemon-side use of libartifactprov.
 * Build against an installed library:
 *     cc embed.c $(pkg-config --cflags --libs artifactprov) -o embed
 * Run:  ./embed REF        (AP_HOME, AP_VENDOR_PATH, HF_TOKEN... apply)
 * SPDX-License-Identifier: MIT */
#include <artifactprov.h>

#include <inttypes.h>
#include <stdio.h>

static int on_event(const ap_event *ev, void *user)
{
    (void)user;
    if (ev->kind == AP_EVENT_PROGRESS || ev->kind == AP_EVENT_DONE ||
        ev->kind == AP_EVENT_ERROR)
        fprintf(stderr, "job %" PRIu64 " %s %" PRIu64 "/%" PRIu64 "\n",
                ev->job_id, ap_event_kind_name(ev->kind),
                ev->progress->bytes_done, ev->progress->bytes_total);
    return 0; /* non-zero would abort the job */
}

int main(int argc, char **argv)
{
    ap_provisioner *prov = NULL;
    ap_provision_options opts = AP_PROVISION_OPTIONS_INIT;
    ap_entry *entry = NULL;
    size_t i;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s REF\n", argv[0]);
        return 2;
    }
    if (ap_global_init() != AP_OK)
        return 1;
    rc = ap_provisioner_new(&prov, NULL);
    if (rc == AP_OK) {
        opts.on_event = on_event;
        rc = ap_provision(prov, argv[1], &opts, &entry);
    }
    if (rc != AP_OK) {
        fprintf(stderr, "embed: %s (%s)\n",
                prov ? ap_provisioner_errmsg(prov) : "no provisioner",
                ap_strerror(rc));
    } else {
        for (i = 0; i < ap_entry_file_count(entry); i++)
            printf("%s %s\n", ap_entry_file_at(entry, i)->sha256,
                   ap_entry_file_at(entry, i)->path);
    }
    ap_entry_free(entry);
    ap_provisioner_free(prov);
    ap_global_cleanup();
    return rc == AP_OK ? 0 : 1;
}
