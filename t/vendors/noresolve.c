/* Test vendor "noresolve": has no resolve function */
#include <artifactprov/vendor.h>

static const char *const schemes[] = { "noresolve", NULL };
static const ap_vendor desc = {
    sizeof(ap_vendor), AP_VENDOR_ABI_VERSION,
    "noresolve", "0.0.1", "test vendor: has no resolve function", schemes, NULL, NULL, NULL, NULL, NULL, NULL,
};
AP_VENDOR_ENTRY(noresolve)
{ (void)host; return &desc; }
