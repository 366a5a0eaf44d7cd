/* Test vendor "short": descriptor shorter than the ABI requires */
#include <artifactprov/vendor.h>
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "short", NULL };
static const ap_vendor desc = {
    .struct_size = offsetof(ap_vendor, schemes),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "short",
    .version = "0.0.1",
    .description = "test vendor: descriptor shorter than the ABI requires",
    .schemes = schemes,
    .resolve = res,
};
AP_VENDOR_ENTRY(short)
{ (void)host; return &desc; }
