/* Test vendor "noresolve": has no resolve function */
#include <artifactprov/vendor.h>
#define EXPORT __attribute__((visibility("default")))

static const char *const schemes[] = { "noresolve", NULL };
static const ap_vendor desc = {
    sizeof(ap_vendor), AP_VENDOR_ABI_MAJOR, AP_VENDOR_ABI_MINOR,
    "noresolve", "0.0.1", "test vendor: has no resolve function", schemes, NULL, NULL, NULL, NULL,
};
EXPORT const ap_vendor *ap_vendor_noresolve_init(const ap_host *host);
EXPORT const ap_vendor *ap_vendor_noresolve_init(const ap_host *host) { (void)host; return &desc; }
