/* Test vendor "badmajor": built for a future major ABI */
#include <artifactprov/vendor.h>
#define EXPORT __attribute__((visibility("default")))
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "badmajor", NULL };
static const ap_vendor desc = {
    sizeof(ap_vendor), AP_VENDOR_ABI_MAJOR + 1, 0,
    "badmajor", "0.0.1", "test vendor: built for a future major ABI", schemes, NULL, NULL, res, NULL,
};
EXPORT const ap_vendor *ap_vendor_badmajor_init(const ap_host *host);
EXPORT const ap_vendor *ap_vendor_badmajor_init(const ap_host *host) { (void)host; return &desc; }
