/* Test vendor "older": an older, shorter descriptor (no download member),
 * as a vendor built against ABI 1.0 before `download` existed would be.
 * It must load, and the missing member must read as absent. */
#include <artifactprov/vendor.h>
#define EXPORT __attribute__((visibility("default")))
static int res(void *s, ap_vendor_call *c, const char *r) { (void)s; (void)c; (void)r; return AP_OK; }
static const char *const schemes[] = { "older", NULL };
static struct {
    ap_vendor v;
    void *garbage; /* lies beyond struct_size: must be ignored */
} desc = {
    { offsetof(ap_vendor, download), AP_VENDOR_ABI_MAJOR, 0,
      "older", "0.0.1", "test vendor: short but valid", schemes, NULL, NULL, res,
      (int (*)(void *, ap_vendor_call *, const ap_vendor_file *, int))1 },
    (void *)1,
};
EXPORT const ap_vendor *ap_vendor_older_init(const ap_host *host);
EXPORT const ap_vendor *ap_vendor_older_init(const ap_host *host) { (void)host; return &desc.v; }
