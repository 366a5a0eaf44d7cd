/* Test vendor "short": descriptor shorter than the ABI requires */
#include <artifactprov/vendor.h>
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "short", NULL };
static const ap_vendor desc = {
    offsetof(ap_vendor, schemes), AP_VENDOR_ABI_VERSION,
    "short", "0.0.1", "test vendor: descriptor shorter than the ABI requires", schemes, NULL, NULL, res, NULL, NULL, NULL,
};
AP_VENDOR_ENTRY(short)
{ (void)host; return &desc; }
