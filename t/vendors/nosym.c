/* Test vendor "nosym": exports the wrong entry symbol */
#include <artifactprov/vendor.h>
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "nosym", NULL };
static const ap_vendor desc = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "nosym",
    .version = "0.0.1",
    .description = "test vendor: exports the wrong entry symbol",
    .schemes = schemes,
    .resolve = res,
};
AP_VENDOR_ENTRY(other)
{ (void)host; return &desc; }
