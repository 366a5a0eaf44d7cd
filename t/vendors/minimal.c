/* Test vendor "minimal": a descriptor that ends after `resolve` (the
 * required members only), followed by bytes that are not zero.  It must
 * load, and the members beyond its struct_size (download, usage, ...,
 * check_ref) must read as absent. */
#include <artifactprov/vendor.h>
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "minimal", NULL };
static const ap_vendor desc = {
    offsetof(ap_vendor, download), AP_VENDOR_ABI_VERSION,
    "minimal", "0.0.1", "test vendor: short but valid", schemes, NULL, NULL, res,
    /* beyond struct_size: garbage the host must ignore */
    (int (*)(void *, ap_vendor_call *, const ap_vendor_file *, int))1,
    "garbage usage",
    (int (*)(void *, ap_vendor_call *, const ap_vendor_publication *))1,
    (int (*)(void *, ap_vendor_call *, const char *))1,
    (int (*)(const char *, char *, size_t))1,
};
AP_VENDOR_ENTRY(minimal) { (void)host; return &desc; }
