/* Test vendor "future": built against newer headers of the same ABI
 * version — its descriptor is larger than this host's ap_vendor (members
 * appended after `usage`).  It must load; the host ignores what lies
 * beyond its own sizeof(ap_vendor). */
#include <artifactprov/vendor.h>
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "future", NULL };
static const struct {
    ap_vendor v;
    int (*later_member)(void *state);  /* unknown to this host */
    const char *another;
} desc = {
    { .struct_size = sizeof desc, .abi_version = AP_VENDOR_ABI_VERSION,
      .name = "future", .version = "0.0.1",
      .description = "test vendor: larger descriptor, same ABI version",
      .schemes = schemes, .resolve = res, .usage = "future:ANYTHING" },
    NULL, "beyond the host's sizeof",
};
AP_VENDOR_ENTRY(future) { (void)host; return &desc.v; }
