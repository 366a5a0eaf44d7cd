/* Test vendor "short": descriptor shorter than the ABI requires */
#include <artifactprov/vendor.h>
#define EXPORT __attribute__((visibility("default")))
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "short", NULL };
static const ap_vendor desc = {
    offsetof(ap_vendor, schemes), AP_VENDOR_ABI_MAJOR, AP_VENDOR_ABI_MINOR,
    "short", "0.0.1", "test vendor: descriptor shorter than the ABI requires", schemes, NULL, NULL, res, NULL,
};
EXPORT const ap_vendor *ap_vendor_short_init(const ap_host *host);
EXPORT const ap_vendor *ap_vendor_short_init(const ap_host *host) { (void)host; return &desc; }
