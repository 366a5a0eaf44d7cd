/* Test vendor "nosym": exports the wrong entry symbol */
#include <artifactprov/vendor.h>
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "nosym", NULL };
static const ap_vendor desc = {
    sizeof(ap_vendor), AP_VENDOR_ABI_VERSION,
    "nosym", "0.0.1", "test vendor: exports the wrong entry symbol", schemes, NULL, NULL, res, NULL, NULL, NULL,
};
AP_VENDOR_ENTRY(other)
{ (void)host; return &desc; }
