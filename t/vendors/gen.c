/* Test vendor "gen": bytes that do not come over HTTP, through the optional
 * download() member.  "gen:SIZE" makes SIZE bytes (byte i = i * 7 mod 251);
 * "gen:SIZE:wrong" also claims a wrong sha256. */
#include <artifactprov/vendor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int create(const ap_host *host, void **state)
{
    *state = (void *)host;
    return AP_OK;
}

static int res(void *s, ap_vendor_call *c, const char *r)
{
    const ap_host *h = s;
    ap_vendor_file f = AP_VENDOR_FILE_INIT;
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    char *end;
    unsigned long long n = strtoull(r + 4, &end, 10);
    if (end == r + 4 || (*end && strcmp(end, ":wrong") != 0))
        return h->set_error(c, AP_EINVAL, "%s: want gen:SIZE[:wrong]", r);
    a.name = "gen";
    if (h->set_artifact(c, &a) != AP_OK)
        return AP_ENOMEM;
    f.path = "data.bin";
    f.size = n;
    if (*end)
        f.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    return h->add_file(c, &f);
}

static int dl(void *s, ap_vendor_call *c, const ap_vendor_file *file, int fd)
{
    const ap_host *h = s;
    unsigned char buf[65536];
    uint64_t done = 0;
    while (done < file->size) {
        size_t k, n = file->size - done < sizeof buf ? (size_t)(file->size - done) : sizeof buf;
        for (k = 0; k < n; k++)
            buf[k] = (unsigned char)(((done + k) * 7) % 251);
        if (write(fd, buf, n) != (ssize_t)n)
            return h->set_error(c, AP_EIO, "write failed");
        done += n;
        if (h->progress(c, done, file->size) || h->is_cancelled(c))
            return h->set_error(c, AP_ECANCELLED, "cancelled at %llu bytes",
                                (unsigned long long)done);
    }
    return AP_OK;
}

static const char *const schemes[] = { "gen", NULL };
static const ap_vendor desc = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "gen",
    .version = "0.0.1",
    .description = "test vendor: download() without HTTP",
    .schemes = schemes,
    .create = create,
    .resolve = res,
    .download = dl,
};
AP_VENDOR_ENTRY(gen)
{ (void)host; return &desc; }
