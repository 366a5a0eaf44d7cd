/* libartifactprov — version information.  SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_VERSION_H
#define ARTIFACTPROV_VERSION_H

/* The single source of truth for the version: the Makefile reads these. */
#define AP_VERSION_MAJOR 0
#define AP_VERSION_MINOR 3
#define AP_VERSION_PATCH 0
#define AP_VERSION_STRING "0.2.0"

/* Encoded as 0xMMmmpp, for compile-time comparisons. */
#define AP_VERSION_NUM \
    ((AP_VERSION_MAJOR << 16) | (AP_VERSION_MINOR << 8) | AP_VERSION_PATCH)

#endif
