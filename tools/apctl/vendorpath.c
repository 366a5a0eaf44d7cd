/* apctl — where the vendor plugins are looked for.
 * SPDX-License-Identifier: MIT
 *
 * $AP_VENDOR_PATH when it is set (the library then adds its compiled-in
 * vendordir, as for every program).  Otherwise apctl looks beside its own
 * executable first, so a build tree or a relocated install runs as it is:
 *   DIR/vendors                       (the build tree: build/apctl, build/vendors)
 *   DIR/../lib/artifactprov/vendors   (an install: PREFIX/bin, PREFIX/lib/...)
 *   the compiled-in vendordir         (AP_VENDORDIR, make VENDORDIR=...)
 * where DIR is the directory of /proc/self/exe; each directory that exists,
 * once (by its real path), in that order. */
#include "apctl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AP_VENDORDIR
#define AP_VENDORDIR "/usr/local/lib/artifactprov/vendors"
#endif

static char g_path[4 * PATH_MAX];  /* the list given to the library */
static char g_text[4 * PATH_MAX];  /* the directories searched, for messages */
static int g_done;

static void add_dir(const char *dir, char *seen, size_t seen_sz)
{
    char real[PATH_MAX];
    struct stat st;
    size_t n;
    if (!realpath(dir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    n = strlen(real);
    /* seen: "\n"-separated real paths */
    {
        const char *p = seen;
        while ((p = strstr(p, real)) != NULL) {
            if ((p == seen || p[-1] == '\n') && p[n] == '\n')
                return;
            p += n;
        }
    }
    if (strlen(seen) + n + 2 > seen_sz || strlen(g_path) + n + 2 > sizeof g_path)
        return;
    strcat(seen, real);
    strcat(seen, "\n");
    if (g_path[0])
        strcat(g_path, ":");
    strcat(g_path, real);
}

static void compute(void)
{
    const char *env = getenv("AP_VENDOR_PATH");
    char exe[PATH_MAX], dir[PATH_MAX + 64], seen[4 * PATH_MAX] = "";
    ssize_t n;
    g_done = 1;
    if (env && *env) {
        snprintf(g_text, sizeof g_text, "%s (AP_VENDOR_PATH) and %s", env, AP_VENDORDIR);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        char *slash;
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL)
            *slash = '\0';
        snprintf(dir, sizeof dir, "%s/vendors", exe);
        add_dir(dir, seen, sizeof seen);
        snprintf(dir, sizeof dir, "%s/../lib/artifactprov/vendors", exe);
        add_dir(dir, seen, sizeof seen);
        snprintf(g_text, sizeof g_text, "%s/vendors, %s/../lib/artifactprov/vendors, ",
                 exe, exe);
    }
    add_dir(AP_VENDORDIR, seen, sizeof seen);
    snprintf(g_text + strlen(g_text), sizeof g_text - strlen(g_text), "%s", AP_VENDORDIR);
}

const char *apctl_vendor_path(void)
{
    if (!g_done)
        compute();
    /* NULL: the library's own search ($AP_VENDOR_PATH, vendordir); ""
     * would search nothing, which is what an empty list means */
    if (getenv("AP_VENDOR_PATH") && *getenv("AP_VENDOR_PATH"))
        return NULL;
    return g_path;
}

const char *apctl_vendor_dirs_text(void)
{
    if (!g_done)
        compute();
    return g_text;
}
