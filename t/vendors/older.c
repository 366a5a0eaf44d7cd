/* Test vendor "older": built against vendor ABI 1, the previous version.
 * The ABI-1 tables are frozen here as that header declared them (struct
 * ap_vendor began struct_size, abi_major, abi_minor; the host table had
 * the same head).  The host must refuse it with AP_EABI and a message
 * naming the file, ABI 1 and the host's ABI (docs/vendor-abi.md). */
#include <stddef.h>
#include <stdint.h>

#define AP_VENDOR_EXPORT_V1 __attribute__((visibility("default")))

typedef struct ap_vendor_call ap_vendor_call;
typedef struct ap_vendor_file_v1 ap_vendor_file_v1;
typedef struct ap_host_v1 {            /* ABI 1.1 head, as frozen */
    size_t struct_size;
    unsigned abi_major;
    unsigned abi_minor;
    /* ... members of ABI 1 not used here */
} ap_host_v1;

typedef struct ap_vendor_v1 {          /* ABI 1.1 ap_vendor, as frozen */
    size_t struct_size;
    unsigned abi_major;
    unsigned abi_minor;
    const char *name;
    const char *version;
    const char *description;
    const char *const *schemes;
    int (*create)(const ap_host_v1 *host, void **state);
    void (*destroy)(void *state);
    int (*resolve)(void *state, ap_vendor_call *call, const char *ref);
    int (*download)(void *state, ap_vendor_call *call,
                    const ap_vendor_file_v1 *file, int fd);
} ap_vendor_v1;

static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return 0; }
static const char *const schemes[] = { "older", NULL };
static const ap_vendor_v1 desc = {
    sizeof(ap_vendor_v1), 1, 1,
    "older", "0.0.1", "test vendor: built for vendor ABI 1.1", schemes, NULL, NULL, res, NULL,
};
AP_VENDOR_EXPORT_V1 const ap_vendor_v1 *ap_vendor_older_init(const ap_host_v1 *host);
AP_VENDOR_EXPORT_V1 const ap_vendor_v1 *ap_vendor_older_init(const ap_host_v1 *host)
{
    (void)host; /* an ABI-1 vendor did not check the host's head */
    return &desc;
}
