/* libartifactprov — version information.  SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_VERSION_H
#define ARTIFACTPROV_VERSION_H

/* The single source of truth for the version: the Makefile reads these. */
#define AP_VERSION_MAJOR 0
#define AP_VERSION_MINOR 6
#define AP_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH", made from the numbers above so it cannot drift. */
#define AP_VERSION_STR_(x) #x
#define AP_VERSION_STR(x) AP_VERSION_STR_(x)
#define AP_VERSION_STRING                                                   \
    AP_VERSION_STR(AP_VERSION_MAJOR) "." AP_VERSION_STR(AP_VERSION_MINOR) "." \
    AP_VERSION_STR(AP_VERSION_PATCH)

/* Encoded as 0xMMmmpp, for compile-time comparisons. */
#define AP_VERSION_NUM \
    ((AP_VERSION_MAJOR << 16) | (AP_VERSION_MINOR << 8) | AP_VERSION_PATCH)

#endif
