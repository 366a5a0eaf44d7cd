/* Test vendor "hostile": resolves to a file name that tries to escape the
 * store, chosen by the reference: hostile:dotdot, hostile:abs, hostile:ctl. */
#include <artifactprov/vendor.h>
#include <string.h>

static int create(const ap_host *host, void **state)
{
    *state = (void *)host;
    return AP_OK;
}

static int res(void *s, ap_vendor_call *c, const char *r)
{
    const ap_host *h = s;
    ap_vendor_file f = AP_VENDOR_FILE_INIT;
    const char *which = strchr(r, ':') + 1;
    f.url = "http://127.0.0.1:9/never";
    if (strcmp(which, "dotdot") == 0)
        f.path = "../../outside";
    else if (strcmp(which, "abs") == 0)
        f.path = "/etc/passwd";
    else if (strcmp(which, "ctl") == 0)
        f.path = "a\x01" "b";
    else
        f.path = "sub/./x";
    return h->add_file(c, &f);
}

static const char *const schemes[] = { "hostile", NULL };
static const ap_vendor desc = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "hostile",
    .version = "0.0.1",
    .description = "test vendor: hostile names",
    .schemes = schemes,
    .create = create,
    .resolve = res,
};
AP_VENDOR_ENTRY(hostile)
{ (void)host; return &desc; }
