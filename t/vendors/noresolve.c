/* Test vendor "noresolve": has no resolve function */
#include <artifactprov/vendor.h>

static const char *const schemes[] = { "noresolve", NULL };
static const ap_vendor desc = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "noresolve",
    .version = "0.0.1",
    .description = "test vendor: has no resolve function",
    .schemes = schemes,
};
AP_VENDOR_ENTRY(noresolve)
{ (void)host; return &desc; }
