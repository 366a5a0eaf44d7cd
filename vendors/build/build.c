/* libartifactprov — the build vendor: build:PATH/TO/RECIPE.json.
 *
 * resolve() reads and checks the recipe, provisions its inputs through
 * host->provision, computes the build key (sha256 of the recipe bytes and
 * of its inputs' digests) and names the entry build:<absolute path>#<key>.
 * When the catalog already holds a ready entry of that name, its files are
 * listed from the store and nothing runs.  Otherwise each output is a file
 * without URL: the first download() of the call runs the command into a
 * work directory kept in the vendor state for that call, every download()
 * copies one output from it, and the directory goes when the last output
 * is copied or anything fails (docs/vendor-build.md says why this design).
 * SPDX-License-Identifier: MIT */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECIPE_MAX (1u << 20)

static int build_create(const ap_host *host, void **state)
{
    bstate *st;
    if (!host || host->abi_version != AP_VENDOR_ABI_VERSION ||
        !AP_HOST_HAS(host, add_file) || !AP_HOST_HAS(host, set_artifact) ||
        !AP_HOST_HAS(host, set_error) || !AP_HOST_HAS(host, getenv) ||
        !AP_HOST_HAS(host, is_cancelled))
        return AP_EABI;
    if (!(st = calloc(1, sizeof *st)))
        return AP_ENOMEM;
    st->h = host;
    pthread_mutex_init(&st->mu, NULL);
    *state = st;
    return AP_OK;
}

static void run_free(brun *r)
{
    size_t i;
    if (!r)
        return;
    if (r->workdir)
        brm_rf(r->workdir);
    free(r->workdir);
    for (i = 0; i < r->nfiles; i++) {
        free(r->files[i].input);
        free(r->files[i].path);
        free(r->files[i].blob);
        free(r->files[i].sha256);
    }
    free(r->files);
    free(r->errmsg);
    brecipe_free(&r->r);
    free(r);
}

static void build_destroy(void *state)
{
    bstate *st = state;
    brun *r, *next;
    if (!st)
        return;
    for (r = st->runs; r; r = next) { /* builds never completed: their dirs go */
        next = r->next;
        run_free(r);
    }
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Take the run of `call` out of the state (NULL when none). */
static brun *run_take(bstate *st, ap_vendor_call *call)
{
    brun **pp, *r = NULL;
    pthread_mutex_lock(&st->mu);
    for (pp = &st->runs; *pp; pp = &(*pp)->next)
        if ((*pp)->call == call) {
            r = *pp;
            *pp = r->next;
            r->next = NULL;
            break;
        }
    pthread_mutex_unlock(&st->mu);
    return r;
}

static void run_put(bstate *st, brun *r)
{
    pthread_mutex_lock(&st->mu);
    r->next = st->runs;
    st->runs = r;
    pthread_mutex_unlock(&st->mu);
}

/* Read the recipe: a regular file of at most RECIPE_MAX bytes. */
static int read_recipe(const ap_host *h, ap_vendor_call *call, const char *ref,
                       const char *path, char **out, size_t *len)
{
    struct stat sb;
    char *b;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return h->set_error(call, errno == ENOENT ? AP_ENOTFOUND : AP_EIO,
                            "%s: cannot open the recipe %s: %s", ref, path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > RECIPE_MAX) {
        close(fd);
        return h->set_error(call, AP_EINVAL, "%s: the recipe %s is not a regular file "
                            "of at most %u bytes", ref, path, RECIPE_MAX);
    }
    if (!(b = malloc((size_t)sb.st_size + 1))) {
        close(fd);
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    while (n < (size_t)sb.st_size) {
        ssize_t k = read(fd, b + n, (size_t)sb.st_size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    b[n] = '\0';
    *out = b;
    *len = n;
    return AP_OK;
}

typedef struct collect_ctx {
    brun *run;
    const char *input;
    const ap_host *h;
    ap_vendor_call *call;
    size_t n;
} collect_ctx;

static int collect_input(void *user, const ap_vendor_entry_file *f)
{
    collect_ctx *c = user;
    brun *r = c->run;
    binput_file *g = realloc(r->files, (r->nfiles + 1) * sizeof *g);
    if (!g)
        return c->h->set_error(c->call, AP_ENOMEM, "out of memory");
    r->files = g;
    g = &r->files[r->nfiles];
    g->input = strdup(c->input);
    g->path = strdup(f->path);
    g->blob = strdup(f->blob_path);
    g->sha256 = strdup(f->sha256);
    r->nfiles++;
    c->n++;
    if (!g->input || !g->path || !g->blob || !g->sha256)
        return c->h->set_error(c->call, AP_ENOMEM, "out of memory");
    return AP_OK;
}

/* A build: input spelled with a relative path means the same recipe from
 * anywhere: make it absolute (and refuse the recipe itself as its input). */
static int input_ref(const ap_host *h, ap_vendor_call *call, const char *ref,
                     const brun *run, size_t i, char **out)
{
    const char *in = run->r.in_refs[i];
    char real[PATH_MAX];
    *out = NULL;
    if (strncmp(in, "build:", 6) == 0) {
        const char *p = in + 6;
        size_t n = strcspn(p, "#");
        char *path = strndup(p, n);
        if (!path)
            return h->set_error(call, AP_ENOMEM, "out of memory");
        if (!realpath(path, real)) {
            free(path);
            *out = strdup(in); /* its own resolve says what is wrong */
        } else if (strcmp(real, run->r.path) == 0) {
            free(path);
            return h->set_error(call, AP_EINVAL, "%s: recipe %s: input \"%s\" is the "
                                "recipe itself (a build cannot be its own input)", ref,
                                run->r.path, run->r.in_names[i]);
        } else {
            free(path);
            if (asprintf(out, "build:%s", real) < 0)
                *out = NULL;
        }
    } else
        *out = strdup(in);
    return *out ? AP_OK : h->set_error(call, AP_ENOMEM, "out of memory");
}

static char *file_url(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(path) * 3 + sizeof "file://"), *o;
    size_t i;
    if (!out)
        return NULL;
    o = out + sprintf(out, "file://");
    for (i = 0; path[i]; i++) {
        unsigned char c = (unsigned char)path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/!$&'()*+,;=:@", c))
            *o++ = (char)c;
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

typedef struct cached {
    const brun *run;
    char **blob, **sha;
    uint64_t *size;
} cached;

static int cached_each(void *user, const ap_vendor_entry_file *f)
{
    cached *c = user;
    size_t i;
    for (i = 0; i < c->run->r.nout; i++)
        if (strcmp(c->run->r.outputs[i], f->path) == 0 && !c->blob[i]) {
            c->blob[i] = strdup(f->blob_path);
            c->sha[i] = strdup(f->sha256);
            c->size[i] = f->size;
        }
    return 0;
}

/* The catalog holds this very build: list its outputs from the store.
 * AP_ENOTFOUND when it does not (or a fresh build is demanded). */
static int from_cache(const ap_host *h, ap_vendor_call *call, const brun *run,
                      const char *canonical)
{
    cached c;
    size_t i, n = run->r.nout;
    int rc;
    if (!AP_HOST_HAS(h, catalog_files))
        return AP_ENOTFOUND;
    c.run = run;
    c.blob = calloc(n, sizeof *c.blob);
    c.sha = calloc(n, sizeof *c.sha);
    c.size = calloc(n, sizeof *c.size);
    rc = c.blob && c.sha && c.size ? AP_OK : h->set_error(call, AP_ENOMEM, "out of memory");
    if (rc == AP_OK && h->catalog_files(call, canonical, cached_each, &c) != AP_OK)
        rc = AP_ENOTFOUND;
    for (i = 0; rc == AP_OK && i < n; i++)
        if (!c.blob[i] || !c.sha[i])
            rc = AP_ENOTFOUND;
    for (i = 0; rc == AP_OK && i < n; i++) {
        ap_vendor_file f = AP_VENDOR_FILE_INIT;
        char *url = file_url(c.blob[i]);
        if (!url) {
            rc = h->set_error(call, AP_ENOMEM, "out of memory");
            break;
        }
        f.path = run->r.outputs[i];
        f.url = url;
        f.sha256 = c.sha[i];
        f.size = c.size[i];
        f.flags = AP_VFILE_LOCAL; /* built here, from verified inputs */
        rc = h->add_file(call, &f);
        free(url);
    }
    for (i = 0; i < n; i++) {
        free(c.blob ? c.blob[i] : NULL);
        free(c.sha ? c.sha[i] : NULL);
    }
    free(c.blob);
    free(c.sha);
    free(c.size);
    return rc;
}

/* Provision the recipe's inputs through the host, collecting their files
 * into run (sorted by name, as the recipe holds them). */
static int provision_inputs(const ap_host *h, ap_vendor_call *call, const char *ref,
                            brun *run)
{
    size_t i;
    int rc;
    if (run->r.nin && !AP_HOST_HAS(h, provision))
        return h->set_error(call, AP_EUNSUPPORTED, "%s: this host cannot provision a "
                            "recipe's inputs (it lacks host->provision)", ref);
    for (i = 0; i < run->r.nin; i++) {
        collect_ctx c = { run, run->r.in_names[i], h, call, 0 };
        char *in = NULL;
        if ((rc = input_ref(h, call, ref, run, i, &in)) != AP_OK)
            return rc;
        if (AP_HOST_HAS(h, log))
            h->log(call, AP_LOG_INFO, "build %s: input %s: %s", run->r.name,
                   run->r.in_names[i], in);
        rc = h->provision(call, in, collect_input, &c);
        free(in);
        if (rc != AP_OK)
            return rc;
        if (h->is_cancelled(call))
            return h->set_error(call, AP_ECANCELLED, "%s: cancelled", ref);
    }
    return AP_OK;
}

/* The build key: the recipe's bytes and every input file (name, path,
 * sha256), into run->key. */
static void build_key(brun *run, const char *bytes, size_t len)
{
    apv_sha256 s;
    size_t i, k;
    apv_sha256_init(&s);
    apv_sha256_update(&s, "artifactprov-build-1", 21);
    apv_sha256_update(&s, bytes, len);
    apv_sha256_update(&s, "", 1);
    for (i = 0; i < run->r.nin; i++) {
        apv_sha256_update(&s, run->r.in_names[i], strlen(run->r.in_names[i]) + 1);
        for (k = 0; k < run->nfiles; k++)
            if (strcmp(run->files[k].input, run->r.in_names[i]) == 0) {
                apv_sha256_update(&s, run->files[k].path, strlen(run->files[k].path) + 1);
                apv_sha256_update(&s, run->files[k].sha256, 65);
            }
    }
    apv_sha256_hex(&s, run->key);
}

static int build_resolve(void *state, ap_vendor_call *call, const char *ref)
{
    bstate *st = state;
    const ap_host *h = st->h;
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    char real[PATH_MAX], *path = NULL, *bytes = NULL, *canonical = NULL;
    size_t len = 0, i;
    brun *run = NULL, *old;
    int rc;

    if ((old = run_take(st, call))) /* a stale run at this call's address */
        run_free(old);
    if (strncmp(ref, "build:", 6) != 0 || !ref[6] || ref[6] == '#')
        return h->set_error(call, AP_EINVAL, "%s: want build:PATH/TO/RECIPE.json", ref);
    /* build:PATH or its canonical form build:/ABS/PATH#KEY (the key is
     * computed again: a stale one is no reason to fail) */
    if (!(path = strndup(ref + 6, strcspn(ref + 6, "#"))))
        return h->set_error(call, AP_ENOMEM, "out of memory");
    if (!realpath(path, real)) {
        rc = h->set_error(call, errno == ENOENT ? AP_ENOTFOUND : AP_EIO,
                          "%s: the recipe %s: %s", ref, path, strerror(errno));
        free(path);
        return rc;
    }
    free(path);
    if ((rc = read_recipe(h, call, ref, real, &bytes, &len)) != AP_OK)
        return rc;
    if (!(run = calloc(1, sizeof *run))) {
        free(bytes);
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    run->call = call;
    if ((rc = brecipe_parse(h, call, ref, real, bytes, len, &run->r)) != AP_OK)
        goto out;
    /* The inputs, provisioned first (sorted by name), then the key. */
    if ((rc = provision_inputs(h, call, ref, run)) != AP_OK)
        goto out;
    build_key(run, bytes, len);
    /* every placeholder names a file the inputs gave: checked now, before
     * anything runs */
    for (i = 0; i < run->r.argc + run->r.nenv; i++) {
        const char *t = i < run->r.argc ? run->r.argv[i] : run->r.env_vals[i - run->r.argc];
        char *x = bexpand(h, call, ref, run, t, NULL, 0);
        if (!x) {
            rc = AP_EINVAL;
            goto out;
        }
        free(x);
    }
    if (asprintf(&canonical, "build:%s#%s", real, run->key) < 0) {
        canonical = NULL;
        rc = h->set_error(call, AP_ENOMEM, "out of memory");
        goto out;
    }
    a.name = run->r.name;
    a.revision = run->key;
    a.canonical = canonical;
    if ((rc = h->set_artifact(call, &a)) != AP_OK)
        goto out;
    rc = from_cache(h, call, run, canonical);
    if (rc == AP_OK) {
        if (AP_HOST_HAS(h, log))
            h->log(call, AP_LOG_INFO, "build %s: already built (key %.12s): nothing "
                   "to run", run->r.name, run->key);
        goto out;
    }
    if (rc != AP_ENOTFOUND)
        goto out;
    rc = AP_OK;
    for (i = 0; rc == AP_OK && i < run->r.nout; i++) {
        ap_vendor_file f = AP_VENDOR_FILE_INIT;
        char *src = NULL;
        /* the "URL" only names the output (and its staging file) */
        if (asprintf(&src, "%s:%s", canonical, run->r.outputs[i]) < 0) {
            rc = h->set_error(call, AP_ENOMEM, "out of memory");
            break;
        }
        f.path = run->r.outputs[i];
        f.url = src;
        f.flags = AP_VFILE_LOCAL; /* built here, from verified inputs */
        rc = h->add_file(call, &f);
        free(src);
    }
    if (rc == AP_OK) {
        run_put(st, run);
        run = NULL;
    }
out:
    free(canonical);
    free(bytes);
    run_free(run);
    return rc;
}

/* Copy the output `rel` of the work directory to fd. */
static int copy_output(const ap_host *h, ap_vendor_call *call, const char *ref,
                       const brun *run, const char *rel, int fd)
{
    char *p = NULL, *buf;
    struct stat sb;
    uint64_t done = 0;
    int in, rc = AP_OK;
    if (asprintf(&p, "%s/%s", run->workdir, rel) < 0)
        return h->set_error(call, AP_ENOMEM, "out of memory");
    {
        /* no link on the way may lead out of the work directory */
        char rw[PATH_MAX], ro[PATH_MAX];
        size_t n;
        if (!realpath(run->workdir, rw) || !realpath(p, ro) ||
            strncmp(ro, rw, (n = strlen(rw))) != 0 || ro[n] != '/') {
            rc = h->set_error(call, AP_EPATH, "output '%s': %s leads out of the work "
                              "directory (or cannot be resolved)", rel, p);
            free(p);
            return rc;
        }
    }
    in = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (in < 0 || fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = h->set_error(call, AP_EIO, "output '%s': cannot open %s: %s", rel, p,
                          in < 0 ? strerror(errno) : "not a regular file");
        if (in >= 0)
            close(in);
        free(p);
        return rc;
    }
    if (!(buf = malloc(1u << 20))) {
        close(in);
        free(p);
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    if (ftruncate(fd, 0) != 0)
        rc = h->set_error(call, AP_EIO, "output '%s': %s", rel, strerror(errno));
    while (rc == AP_OK) {
        ssize_t n = read(in, buf, 1u << 20), w = 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = h->set_error(call, AP_EIO, "output '%s': read %s: %s", rel, p,
                              strerror(errno));
            break;
        }
        if (n == 0)
            break;
        while (w < n) {
            ssize_t k = write(fd, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                rc = h->set_error(call, AP_EIO, "output '%s': write: %s", rel,
                                  k < 0 ? strerror(errno) : "no progress");
                break;
            }
            w += k;
        }
        done += (uint64_t)n;
        if (rc == AP_OK && (h->is_cancelled(call) ||
                            (AP_HOST_HAS(h, progress) &&
                             h->progress(call, done, (uint64_t)sb.st_size))))
            rc = h->set_error(call, AP_ECANCELLED, "cancelled");
    }
    free(buf);
    close(in);
    free(p);
    return rc;
}

static int build_download(void *state, ap_vendor_call *call, const ap_vendor_file *file,
                          int fd)
{
    bstate *st = state;
    const ap_host *h = st->h;
    brun *run = run_take(st, call);
    char *ref = NULL;
    int rc;

    if (!run)
        return h->set_error(call, AP_EINVAL, "build: output '%s': no build was resolved "
                            "for this request", file->path);
    if (asprintf(&ref, "build:%s", run->r.path) < 0) {
        run_free(run);
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    if (run->state == 0) {
        rc = brun_build(st, call, ref, run);
        run->state = rc == AP_OK ? 1 : rc;
        if (rc != AP_OK) {
            run_free(run); /* its work directory is already gone */
            free(ref);
            return rc;
        }
    }
    rc = copy_output(h, call, ref, run, file->path, fd);
    free(ref);
    if (rc == AP_OK && ++run->copied < run->r.nout) {
        run_put(st, run); /* more outputs to copy */
        return AP_OK;
    }
    run_free(run); /* the last output, or a failure: the work directory goes */
    return rc;
}

static const char *const build_schemes[] = { "build", NULL };

/* The syntax of a reference, without I/O (ap_vendor.check_ref): the
 * recipe itself is read by resolve. */
static int build_check_ref(const char *ref, char *err, size_t errlen)
{
    if (strncmp(ref, "build:", 6) != 0 || !ref[6] || ref[6] == '#') {
        snprintf(err, errlen, "no recipe path");
        return AP_EINVAL;
    }
    return AP_OK;
}

static const ap_vendor build_vendor = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "build",
    .version = "1.0.0",
    .description = "local builds from a JSON recipe (inputs, command, outputs)",
    .schemes = build_schemes,
    .create = build_create,
    .destroy = build_destroy,
    .resolve = build_resolve,
    .download = build_download,
    .usage = "build:PATH/TO/RECIPE.json",
    .check_ref = build_check_ref,
};

AP_VENDOR_ENTRY(build)
{
    (void)host;
    return &build_vendor;
}
