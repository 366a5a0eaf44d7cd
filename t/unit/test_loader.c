/* Vendor loader: deliberately broken plugins are refused with a message
 * naming the file and both ABI versions; good ones load; hostile file
 * names from a vendor are refused before anything touches the disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <artifactprov.h>
#include <artifactprov/sys/store.h> /* ap_store_staging_path */
#include <pthread.h>

static char home[256];
static char vdir[512];
static char tmproot[256];

static ap_provisioner *mk(void)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    o.home = home;
    o.flags = AP_PROV_NO_PLUGINS;
    assert_int_equal(ap_provisioner_new(&p, &o), AP_OK);
    return p;
}

static int load(ap_provisioner *p, const char *name)
{
    char path[768];
    snprintf(path, sizeof path, "%s/ap-vendor-%s.so", vdir, name);
    return ap_provisioner_load_vendor(p, path);
}

static void expect_refusal(const char *name, int status, const char *const *needles)
{
    ap_provisioner *p = mk();
    const char *msg;
    assert_int_equal(load(p, name), status);
    msg = ap_provisioner_errmsg(p);
    assert_non_null(strstr(msg, name)); /* names the file */
    for (; *needles; needles++)
        if (!strstr(msg, *needles)) {
            print_error("message '%s' lacks '%s'\n", msg, *needles);
            fail();
        }
    assert_int_equal(ap_provisioner_vendor_count(p), 0);
    ap_provisioner_free(p);
}

static void test_wrong_major(void **s)
{
    const char *n[] = { "built for vendor ABI 3", "host speaks vendor ABI 2", NULL };
    (void)s;
    expect_refusal("badmajor", AP_EABI, n);
}

/* A vendor compiled with the frozen ABI-1 tables (t/vendors/older.c) is
 * refused, as docs/vendor-abi.md says, naming the file and both ABIs. */
static void test_abi1_vendor_refused(void **s)
{
    const char *n[] = { "built for vendor ABI 1,", "host speaks vendor ABI 2",
                        "rebuild", NULL };
    (void)s;
    expect_refusal("older", AP_EABI, n);
}

/* Built against newer headers of the same version: a larger descriptor
 * is accepted and what lies beyond our sizeof(ap_vendor) is ignored. */
static void test_future_larger_struct(void **s)
{
    ap_provisioner *p = mk();
    ap_vendor_info vi;
    (void)s;
    assert_int_equal(load(p, "future"), AP_OK);
    assert_int_equal(ap_provisioner_vendor_info(p, 0, &vi), AP_OK);
    assert_string_equal(vi.name, "future");
    assert_int_equal(vi.abi_version, AP_VENDOR_ABI_VERSION);
    assert_string_equal(vi.usage, "future:ANYTHING");
    ap_provisioner_free(p);
}

static void test_short_struct(void **s)
{
    const char *n[] = { "shorter than vendor ABI 2 requires", NULL };
    (void)s;
    expect_refusal("short", AP_EABI, n);
}

static void test_missing_symbol(void **s)
{
    const char *n[] = { "ap_vendor_nosym_init not found", "vendor ABI 2", NULL };
    (void)s;
    expect_refusal("nosym", AP_EVENDOR, n);
}

static void test_missing_resolve(void **s)
{
    const char *n[] = { "no resolve function", NULL };
    (void)s;
    expect_refusal("noresolve", AP_EVENDOR, n);
}

static void test_minimal_short_but_valid(void **s)
{
    ap_provisioner *p = mk();
    ap_vendor_info vi;
    (void)s;
    assert_int_equal(load(p, "minimal"), AP_OK);
    assert_int_equal(ap_provisioner_vendor_count(p), 1);
    assert_int_equal(ap_provisioner_vendor_info(p, 0, &vi), AP_OK);
    assert_string_equal(vi.name, "minimal");
    assert_int_equal(vi.abi_version, 2);
    assert_string_equal(vi.schemes[0], "minimal");
    /* `usage` lies beyond its struct_size: absent, not the garbage */
    assert_string_equal(vi.usage, "");
    /* loading the same scheme twice is refused and names both */
    assert_int_equal(load(p, "minimal"), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "already served"));
    ap_provisioner_free(p);
}

static void test_bad_names(void **s)
{
    ap_provisioner *p = mk();
    (void)s;
    assert_int_equal(ap_provisioner_load_vendor(p, "ap-vendor-x.so"), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "current directory"));
    assert_int_equal(ap_provisioner_load_vendor(p, "/nonexistent/libfoo.so"), AP_EVENDOR);
    assert_int_equal(ap_provisioner_load_vendor(p, "/nonexistent/ap-vendor-x.so"), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "cannot load"));
    assert_int_equal(ap_provisioner_load_vendor(p, ""), AP_EINVAL);
    ap_provisioner_free(p);
}

static void test_scan_collects_refusals(void **s)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    const char *const *r;
    int nref = 0;
    (void)s;
    o.home = home;
    o.vendor_path = vdir;
    assert_int_equal(ap_provisioner_new(&p, &o), AP_OK);
    /* future, gen, hostile and minimal load; the five refused ones
     * (badmajor, noresolve, nosym, older, short) are listed */
    assert_int_equal(ap_provisioner_vendor_count(p), 4);
    for (r = ap_provisioner_refusals(p); *r; r++)
        nref++;
    assert_int_equal(nref, 5);
    ap_provisioner_free(p);
}

static void test_hostile_paths(void **s)
{
    static const char *const kinds[] = { "hostile:dotdot", "hostile:abs",
                                         "hostile:ctl", "hostile:dot" };
    ap_provisioner *p = mk();
    size_t i;
    char outside[600];
    (void)s;
    assert_int_equal(load(p, "hostile"), AP_OK);
    for (i = 0; i < 4; i++) {
        ap_entry *e = (ap_entry *)1;
        assert_int_equal(ap_provision(p, kinds[i], NULL, &e), AP_EPATH);
        assert_null(e);
        assert_non_null(strstr(ap_provisioner_errmsg(p), kinds[i]));
        assert_non_null(strstr(ap_provisioner_errmsg(p), "hostile"));
    }
    snprintf(outside, sizeof outside, "%s/../outside", home);
    assert_int_equal(access(outside, F_OK), -1);
    ap_provisioner_free(p);
}

/* The grammar in these errors is the loaded vendors' `usage` (or
 * "SCHEME:..." for a vendor without one), never a list the core keeps. */
static void test_unknown_scheme_and_bad_ref(void **s)
{
    ap_provisioner *p = mk();
    const char *msg;
    (void)s;
    assert_int_equal(ap_provision(p, "nope:x", NULL, NULL), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "nope:x"));
    assert_non_null(strstr(ap_provisioner_errmsg(p), "no vendor is loaded"));
    assert_int_equal(load(p, "future"), AP_OK);
    assert_int_equal(load(p, "gen"), AP_OK);
    assert_int_equal(ap_provision(p, "nope:x", NULL, NULL), AP_EVENDOR);
    msg = ap_provisioner_errmsg(p);
    assert_non_null(strstr(msg, "future:ANYTHING"));
    assert_non_null(strstr(msg, "gen:..."));
    assert_int_equal(ap_provision(p, "no scheme here", NULL, NULL), AP_EINVAL);
    msg = ap_provisioner_errmsg(p);
    assert_non_null(strstr(msg, "future:ANYTHING"));
    assert_null(strstr(msg, "hf:"));     /* no vendor of those is loaded */
    assert_null(strstr(msg, "ollama:"));
    assert_int_equal(ap_provision(p, "", NULL, NULL), AP_EINVAL);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "future:ANYTHING"));
    ap_provisioner_free(p);
}

static int cancel_midway(const ap_event *ev, void *user)
{
    if (ev->kind == AP_EVENT_PROGRESS && ev->progress->bytes_done >= 1000000)
        ap_cancel(user);
    assert_int_not_equal(ev->job_id, 0);
    return 0;
}

/* ---- a statically linked vendor in a vendor set, driven through ap_jobs */

/* "mem:SIZE": SIZE bytes (byte i = i * 13 mod 253) written by download();
 * the option "mem_seed" (per request) is recorded in the artifact name. */
static int mem_creates, mem_destroys; /* under mem_mu */
static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct mem_state { const ap_host *host; } mem_state;

static int mem_create(const ap_host *host, void **state)
{
    mem_state *m = calloc(1, sizeof *m);
    if (!m)
        return AP_ENOMEM;
    m->host = host;
    *state = m;
    pthread_mutex_lock(&mem_mu);
    mem_creates++;
    pthread_mutex_unlock(&mem_mu);
    return AP_OK;
}

static void mem_destroy(void *state)
{
    pthread_mutex_lock(&mem_mu);
    mem_destroys++;
    pthread_mutex_unlock(&mem_mu);
    free(state);
}

static int mem_resolve(void *state, ap_vendor_call *c, const char *r)
{
    const ap_host *h = ((mem_state *)state)->host;
    ap_vendor_file f = AP_VENDOR_FILE_INIT;
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    const char *seed = AP_HOST_HAS(h, option) ? h->option(c, "mem_seed") : NULL;
    char name[64];
    snprintf(name, sizeof name, "mem-%s-%s", seed ? seed : "noseed", r + 4);
    a.name = name;
    if (h->set_artifact(c, &a) != AP_OK)
        return AP_ENOMEM;
    f.path = "data.bin";
    f.size = strtoull(r + 4, NULL, 10);
    return h->add_file(c, &f);
}

static int mem_download(void *state, ap_vendor_call *c, const ap_vendor_file *file, int fd)
{
    const ap_host *h = ((mem_state *)state)->host;
    unsigned char buf[8192];
    uint64_t done = 0;
    while (done < file->size) {
        size_t k, n = file->size - done < sizeof buf ? (size_t)(file->size - done) : sizeof buf;
        for (k = 0; k < n; k++)
            buf[k] = (unsigned char)(((done + k) * 13) % 253);
        if (write(fd, buf, n) != (ssize_t)n)
            return h->set_error(c, AP_EIO, "write failed");
        done += n;
    }
    return AP_OK;
}

static const char *const mem_schemes[] = { "mem", NULL };
static const ap_vendor mem_vendor = {
    .struct_size = sizeof(ap_vendor), .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "mem", .version = "0.0.1", .description = "test: bytes from memory",
    .schemes = mem_schemes, .create = mem_create, .destroy = mem_destroy,
    .resolve = mem_resolve, .download = mem_download, .usage = "mem:SIZE",
};
AP_VENDOR_ENTRY(mem) { (void)host; return &mem_vendor; }

static void check_mem_file(const char *path, uint64_t size)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    size_t i, n, bad = 0;
    assert_non_null(f);
    for (i = 0; (n = fread(buf, 1, sizeof buf, f)) > 0; i += n) {
        size_t k;
        for (k = 0; k < n; k++)
            bad += buf[k] != (unsigned char)(((i + k) * 13) % 253);
    }
    fclose(f);
    assert_int_equal(i, size);
    assert_int_equal(bad, 0);
}

/* A vendor set with a statically registered vendor serves every worker of
 * an ap_jobs registry (no plugin scanning): each worker's provisioner
 * creates its own state, and per-request options reach the vendor. */
static void test_vendor_set_jobs(void **s)
{
    ap_vendor_set *set = NULL;
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    const char *const vopts[] = { "mem_seed", "s42", NULL };
    static const char *const refs[] = { "mem:100000", "mem:250000", "mem:70000" };
    static const uint64_t sizes[] = { 100000, 250000, 70000 };
    ap_jobs *jobs = NULL;
    ap_job_id ids[3];
    ap_vendor_info vi;
    char jhome[300];
    size_t i;
    (void)s;
    assert_int_equal(ap_vendor_set_new(&set), AP_OK);
    assert_int_equal(ap_vendor_set_register(set, ap_vendor_mem_init, "static"), AP_OK);
    assert_int_equal(ap_vendor_set_count(set), 1);
    assert_int_equal(ap_vendor_set_info(set, 0, &vi), AP_OK);
    assert_string_equal(vi.name, "mem");
    assert_string_equal(vi.usage, "mem:SIZE");
    assert_string_equal(vi.origin, "static");
    /* the set itself creates no state: provisioners do */
    assert_int_equal(mem_creates, 0);
    /* a scheme taken twice is refused by the set too */
    assert_int_equal(ap_vendor_set_register(set, ap_vendor_mem_init, "again"), AP_EVENDOR);
    assert_non_null(strstr(ap_vendor_set_errmsg(set), "already served"));

    snprintf(jhome, sizeof jhome, "%s-jobs", home);
    po.home = jhome;
    po.flags = AP_PROV_NO_PLUGINS;
    po.vendors = set;
    jo.max_running = 2;
    assert_int_equal(ap_jobs_new(&jobs, &po, &jo), AP_OK);
    o.vendor_options = vopts;
    for (i = 0; i < 3; i++)
        assert_int_equal(ap_jobs_submit(jobs, refs[i], &o, &ids[i]), AP_OK);
    for (i = 0; i < 3; i++) {
        ap_job_info info = AP_JOB_INFO_INIT;
        ap_entry *e = NULL;
        assert_int_equal(ap_jobs_wait(jobs, ids[i], -1, &info), AP_OK);
        if (info.state != AP_JOB_DONE)
            print_error("job %s: %s\n", refs[i], info.message ? info.message : "?");
        assert_int_equal(info.state, AP_JOB_DONE);
        assert_int_equal(ap_jobs_entry(jobs, ids[i], &e), AP_OK);
        assert_int_equal(e->status, AP_ENTRY_READY);
        assert_string_equal(e->vendor, "mem");
        /* the per-request option reached the vendor */
        assert_true(strncmp(e->name, "mem-s42-", 8) == 0);
        assert_string_equal(e->name + 8, refs[i] + 4);
        assert_int_equal(e->nfiles, 1);
        check_mem_file(e->files[0].path, sizes[i]);
        ap_entry_free(e);
        ap_job_info_clear(&info);
    }
    ap_jobs_free(jobs);
    /* every state a worker created was destroyed with its provisioner */
    assert_true(mem_creates >= 1);
    assert_int_equal(mem_creates, mem_destroys);
    ap_vendor_set_free(set);
}

static void test_vendor_download(void **s)
{
    ap_provisioner *p = mk();
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_cancel_token *tok = ap_cancel_token_new();
    ap_entry *e = NULL;
    FILE *f;
    size_t i, n;
    int bad = 0;
    unsigned char buf[4096];
    (void)s;
    assert_int_equal(load(p, "gen"), AP_OK);
    /* the bytes come from the vendor's download(), verified and stored */
    assert_int_equal(ap_provision(p, "gen:300000", NULL, &e), AP_OK);
    assert_int_equal(e->nfiles, 1);
    assert_int_equal(e->files[0].size, 300000);
    f = fopen(e->files[0].path, "rb");
    assert_non_null(f);
    for (i = 0; (n = fread(buf, 1, sizeof buf, f)) > 0; i += n) {
        size_t k;
        for (k = 0; k < n; k++)
            bad += buf[k] != (unsigned char)(((i + k) * 7) % 251);
    }
    fclose(f);
    assert_int_equal(i, 300000);
    assert_int_equal(bad, 0);
    ap_entry_free(e);
    /* a wrong digest is refused and nothing lands */
    assert_int_equal(ap_provision(p, "gen:5000:wrong", NULL, &e), AP_EDIGEST);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "sha256 mismatch"));
    assert_non_null(strstr(ap_provisioner_errmsg(p), "gen:5000:wrong"));
    /* cancel from the event callback, mid-download */
    o.cancel = tok;
    o.on_event = cancel_midway;
    o.event_user = tok;
    o.progress_interval_ms = 1;
    assert_int_equal(ap_provision(p, "gen:50000000", &o, &e), AP_ECANCELLED);
    assert_null(e);
    ap_cancel_token_free(tok);
    ap_provisioner_free(p);
}

/* A FIFO or a symlink planted at the staging path of a vendor's own
 * download() is replaced: the pull neither blocks on the FIFO nor writes
 * through the link (the file outside the store keeps its bytes). */
static void test_vendor_download_planted_staging(void **s)
{
    ap_provisioner *p = mk();
    ap_entry *e = NULL;
    char *staging = NULL, outside[512], buf[16];
    int k, fd;
    (void)s;
    assert_int_equal(load(p, "gen"), AP_OK);
    assert_int_equal(ap_store_staging_path(ap_provisioner_store(p), "data.bin", &staging),
                     AP_OK);
    snprintf(outside, sizeof outside, "%s/outside.txt", tmproot);
    for (k = 0; k < 2; k++) {
        fd = open(outside, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "precious", 8), 8);
        close(fd);
        unlink(staging);
        if (k == 0)
            assert_int_equal(mkfifo(staging, 0600), 0);
        else
            assert_int_equal(symlink(outside, staging), 0);
        alarm(20); /* a regression blocks on the FIFO: fail, do not hang */
        if (ap_provision(p, k ? "gen:1001" : "gen:1000", NULL, &e) != AP_OK) {
            print_error("planted %s: %s\n", k ? "symlink" : "FIFO", ap_provisioner_errmsg(p));
            fail();
        }
        alarm(0);
        assert_int_equal(e->files[0].size, k ? 1001 : 1000);
        ap_entry_free(e);
        e = NULL;
        fd = open(outside, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof buf), 8);
        assert_memory_equal(buf, "precious", 8);
        close(fd);
    }
    unlink(outside);
    ap_free(staging);
    ap_provisioner_free(p);
}

/* ---- plugin trust (StrictModes) ------------------------------------- */

/* Copy build/t/vendors/ap-vendor-minimal.so into DIR (created with dmode)
 * with file mode fmode; the path goes to out. */
static void plant(const char *dir, mode_t dmode, mode_t fmode, char *out,
                  size_t outsz)
{
    char src[768], buf[65536];
    int in, fd;
    ssize_t n;
    (void)mkdir(dir, 0700);
    assert_int_equal(chmod(dir, dmode), 0);
    snprintf(src, sizeof src, "%s/ap-vendor-minimal.so", vdir);
    snprintf(out, outsz, "%s/ap-vendor-minimal.so", dir);
    unlink(out);
    in = open(src, O_RDONLY);
    assert_true(in >= 0);
    fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0700);
    assert_true(fd >= 0);
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(fd, buf, (size_t)n), n);
    close(in);
    close(fd);
    assert_int_equal(chmod(out, fmode), 0);
}

/* Loading `path` is refused (AP_EVENDOR) with a message naming `who`
 * and containing `why`; nothing is loaded. */
static void expect_untrusted(const char *path, const char *who, const char *why)
{
    ap_provisioner *p = mk();
    const char *msg;
    assert_int_equal(ap_provisioner_load_vendor(p, path), AP_EVENDOR);
    msg = ap_provisioner_errmsg(p);
    if (!strstr(msg, who) || !strstr(msg, why)) {
        print_error("message '%s' lacks '%s' or '%s'\n", msg, who, why);
        fail();
    }
    assert_int_equal(ap_provisioner_vendor_count(p), 0);
    ap_provisioner_free(p);
}

static void expect_trusted(const char *path)
{
    ap_provisioner *p = mk();
    if (ap_provisioner_load_vendor(p, path) != AP_OK) {
        print_error("%s refused: %s\n", path, ap_provisioner_errmsg(p));
        fail();
    }
    assert_int_equal(ap_provisioner_vendor_count(p), 1);
    ap_provisioner_free(p);
}

static void test_trust_modes(void **s)
{
    char dir[400], so[800];
    (void)s;
    snprintf(dir, sizeof dir, "%s/trust-ok", tmproot);
    plant(dir, 0755, 0755, so, sizeof so);
    expect_trusted(so);
    plant(dir, 0755, 0444, so, sizeof so);
    expect_trusted(so);
    /* the file itself writable by others, by group */
    plant(dir, 0755, 0757, so, sizeof so);
    expect_untrusted(so, so, "writable by others");
    plant(dir, 0755, 0775, so, sizeof so);
    expect_untrusted(so, so, "writable by group");
    /* the directory holding it: world-writable, sticky (as /tmp), group */
    snprintf(dir, sizeof dir, "%s/trust-777", tmproot);
    plant(dir, 0777, 0755, so, sizeof so);
    expect_untrusted(so, dir, "writable by others");
    snprintf(dir, sizeof dir, "%s/trust-1777", tmproot);
    plant(dir, 01777, 0755, so, sizeof so);
    expect_untrusted(so, dir, "writable by others");
    snprintf(dir, sizeof dir, "%s/trust-775", tmproot);
    plant(dir, 0775, 0755, so, sizeof so);
    expect_untrusted(so, dir, "writable by group");
}

static void test_trust_symlinks(void **s)
{
    char good[400], bad[400], so[800], link[800];
    (void)s;
    /* a link in a trusted directory to a trusted file: loads (the
     * resolved path is what is checked, as ssh does) */
    snprintf(good, sizeof good, "%s/trust-link-good", tmproot);
    plant(good, 0755, 0755, so, sizeof so);
    snprintf(bad, sizeof bad, "%s/trust-link-dir", tmproot);
    (void)mkdir(bad, 0755);
    snprintf(link, sizeof link, "%s/ap-vendor-minimal.so", bad);
    (void)unlink(link);
    assert_int_equal(symlink(so, link), 0);
    expect_trusted(link);
    /* a link in a trusted directory to a file in a world-writable one */
    snprintf(good, sizeof good, "%s/trust-link-777", tmproot);
    plant(good, 0777, 0755, so, sizeof so);
    (void)unlink(link);
    assert_int_equal(symlink(so, link), 0);
    expect_untrusted(link, good, "writable by others");
    /* a link to a writable file */
    snprintf(good, sizeof good, "%s/trust-link-666", tmproot);
    plant(good, 0755, 0666, so, sizeof so);
    (void)unlink(link);
    assert_int_equal(symlink(so, link), 0);
    expect_untrusted(link, so, "writable by others");
    /* a trusted file reached through a world-writable directory */
    snprintf(good, sizeof good, "%s/trust-link-good", tmproot);
    plant(good, 0755, 0755, so, sizeof so);
    assert_int_equal(chmod(bad, 01777), 0);
    (void)unlink(link);
    assert_int_equal(symlink(so, link), 0);
    expect_untrusted(link, bad, "writable by others");
    assert_int_equal(chmod(bad, 0755), 0);
}

static void test_trust_owner(void **s)
{
    char dir[400], so[800];
    (void)s;
    if (geteuid() != 0) {
        /* said in the TAP output; cmocka's skip() would print "not ok" */
        print_message("# SKIP: foreign owner needs root to chown (not root)\n");
        return;
    }
    snprintf(dir, sizeof dir, "%s/trust-owner-file", tmproot);
    plant(dir, 0755, 0755, so, sizeof so);
    assert_int_equal(chown(so, 65534, 65534), 0);
    expect_untrusted(so, so, "owned by uid 65534");
    snprintf(dir, sizeof dir, "%s/trust-owner-dir", tmproot);
    plant(dir, 0755, 0755, so, sizeof so);
    assert_int_equal(chown(dir, 65534, 65534), 0);
    expect_untrusted(so, dir, "owned by uid 65534");
}

static void test_trust_scan(void **s)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    const char *const *r;
    char bad[400], good[400], so[800], path[900];
    int seen = 0;
    (void)s;
    snprintf(bad, sizeof bad, "%s/scan-1777", tmproot);
    plant(bad, 01777, 0755, so, sizeof so);
    snprintf(good, sizeof good, "%s/scan-ok", tmproot);
    plant(good, 0755, 0666, so, sizeof so);
    snprintf(path, sizeof path, "%s:%s", bad, good);
    o.home = home;
    o.vendor_path = path;
    assert_int_equal(ap_provisioner_new(&p, &o), AP_OK);
    assert_int_equal(ap_provisioner_vendor_count(p), 0);
    for (r = ap_provisioner_refusals(p); *r; r++) {
        if (strstr(*r, bad) && strstr(*r, "writable by others"))
            seen |= 1;
        if (strstr(*r, so) && strstr(*r, "writable by others"))
            seen |= 2;
    }
    assert_int_equal(seen, 3);
    ap_provisioner_free(p);
}

/* ap_vendor_set_check_ref: the syntax of a reference, before anything
 * runs — no scheme, an unknown scheme, and each in-tree vendor's own
 * check_ref; a vendor without check_ref is asked nothing. */
static void test_check_ref(void **st)
{
    static const struct { const char *ref; int want; const char *says; } cases[] = {
        { "hf:org/repo", AP_OK, NULL },
        { "hf:org/repo:Q4_K_M", AP_OK, NULL },
        { "hf:org/repo/file.gguf", AP_OK, NULL },
        { "hf:", AP_EINVAL, "bad huggingface reference" },
        { "hf:org/re po", AP_EINVAL, "hf:org/re po" },
        { "https://example.org/m.gguf#sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", AP_OK, NULL },
        { "https:///nohost", AP_EINVAL, "without a host" },
        { "https://example.org/m#sha256=12", AP_EINVAL, "bad fragment" },
        { "gh:ggml-org/llama.cpp@b4000/*.zip", AP_OK, NULL },
        { "gh:", AP_EINVAL, "bad github reference" },
        { "ollama:llama3.2:1b", AP_OK, NULL },
        { "ollama:", AP_EINVAL, "bad ollama reference" },
        { "build:recipe.json", AP_OK, NULL },
        { "build:", AP_EINVAL, "no recipe path" },
        { "no-scheme-here", AP_EINVAL, "not a reference" },
        { "hf:org/repo\n", AP_EINVAL, "control character" },
        { "zz:anything", AP_EVENDOR, "no vendor serves the scheme 'zz:'" },
        { "minimal:anything at all", AP_OK, NULL }, /* no check_ref: resolve decides */
    };
    ap_vendor_set *set = NULL;
    char path[1024], err[1024];
    size_t i;
    const char *b = getenv("AP_BUILD");
    (void)st;
    assert_int_equal(ap_vendor_set_new(&set), AP_OK);
    assert_int_equal(ap_vendor_set_check_ref(set, "hf:org/repo", err, sizeof err), AP_EVENDOR);
    assert_non_null(strstr(err, "no vendor is loaded"));
    snprintf(path, sizeof path, "%s/vendors", b ? b : "build");
    assert_int_equal(ap_vendor_set_load_path(set, path), AP_OK);
    snprintf(path, sizeof path, "%s/ap-vendor-minimal.so", vdir);
    assert_int_equal(ap_vendor_set_load_file(set, path), AP_OK);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = ap_vendor_set_check_ref(set, cases[i].ref, err, sizeof err);
        if (rc != cases[i].want || (cases[i].says && !strstr(err, cases[i].says)))
            fail_msg("%s: got %d '%s', want %d '%s'", cases[i].ref, rc, err,
                     cases[i].want, cases[i].says ? cases[i].says : "");
    }
    /* err may be NULL; a NULL set is refused */
    assert_int_equal(ap_vendor_set_check_ref(set, "gh:", NULL, 0), AP_EINVAL);
    assert_int_equal(ap_vendor_set_check_ref(NULL, "hf:a/b", err, sizeof err), AP_EINVAL);
    ap_vendor_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_major),
        cmocka_unit_test(test_abi1_vendor_refused),
        cmocka_unit_test(test_future_larger_struct),
        cmocka_unit_test(test_short_struct),
        cmocka_unit_test(test_missing_symbol),
        cmocka_unit_test(test_missing_resolve),
        cmocka_unit_test(test_minimal_short_but_valid),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_scan_collects_refusals),
        cmocka_unit_test(test_hostile_paths),
        cmocka_unit_test(test_unknown_scheme_and_bad_ref),
        cmocka_unit_test(test_vendor_download),
        cmocka_unit_test(test_vendor_set_jobs),
        cmocka_unit_test(test_vendor_download_planted_staging),
        cmocka_unit_test(test_trust_modes),
        cmocka_unit_test(test_trust_symlinks),
        cmocka_unit_test(test_trust_owner),
        cmocka_unit_test(test_trust_scan),
        cmocka_unit_test(test_check_ref),
    };
    const char *b = getenv("AP_BUILD");
    char tmpl[] = "/tmp/aploader.XXXXXX";
    int rc;
    cmocka_set_message_output(CM_OUTPUT_TAP);
    if (!mkdtemp(tmpl))
        return 1;
    snprintf(home, sizeof home, "%s/home", tmpl);
    snprintf(tmproot, sizeof tmproot, "%s", tmpl);
    snprintf(vdir, sizeof vdir, "%s/t/vendors", b ? b : "build");
    if (vdir[0] != '/') {
        char cwd[256];
        if (!getcwd(cwd, sizeof cwd))
            return 1;
        snprintf(vdir, sizeof vdir, "%s/%s/t/vendors", cwd, b ? b : "build");
    }
    ap_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    ap_global_cleanup();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        if (system(cmd) != 0)
            rc = rc ? rc : 1;
    }
    return rc;
}
