/* Test vendor "nosym": exports the wrong entry symbol */
#include <artifactprov/vendor.h>
#define EXPORT __attribute__((visibility("default")))
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "nosym", NULL };
static const ap_vendor desc = {
    sizeof(ap_vendor), AP_VENDOR_ABI_MAJOR, AP_VENDOR_ABI_MINOR,
    "nosym", "0.0.1", "test vendor: exports the wrong entry symbol", schemes, NULL, NULL, res, NULL,
};
EXPORT const ap_vendor *ap_vendor_other_init(const ap_host *host);
EXPORT const ap_vendor *ap_vendor_other_init(const ap_host *host) { (void)host; return &desc; }
