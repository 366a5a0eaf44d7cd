/* Test vendor "badmajor": built for a future major ABI */
#include <artifactprov/vendor.h>
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "badmajor", NULL };
static const ap_vendor desc = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION + 1,
    .name = "badmajor",
    .version = "0.0.1",
    .description = "test vendor: built for a future major ABI",
    .schemes = schemes,
    .resolve = res,
};
AP_VENDOR_ENTRY(badmajor)
{ (void)host; return &desc; }
