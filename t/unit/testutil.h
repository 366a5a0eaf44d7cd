/* Small file helpers shared by the C unit tests of the store, the catalog
 * and the HF cache.  Header-only (static functions), included after
 * cmocka.h.  SPDX-License-Identifier: MIT */
#ifndef AP_T_TESTUTIL_H
#define AP_T_TESTUTIL_H

#include "digest.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Not every test uses every helper. */
#define TU_FN static __attribute__((unused))

/* Write n bytes of data to path (created or truncated). */
TU_FN void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Write a C string to path. */
TU_FN void write_str(const char *path, const char *s)
{
    write_file(path, s, strlen(s));
}

/* sha256 of a C string, as hex. */
TU_FN void sha_of(const char *data, char hex[65])
{
    apx_digest *d = apx_digest_new(APX_SHA256);
    apx_digest_update(d, data, strlen(data));
    apx_digest_final_hex(d, hex);
    apx_digest_free(d);
}

/* 1 when something (even a dangling symlink) is at p. */
TU_FN int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Entries of a directory other than "." and "..", 0 when it is absent. */
TU_FN size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

#endif
