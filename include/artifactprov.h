/* libartifactprov — umbrella header.  SPDX-License-Identifier: MIT
 *
 * Provision model artifacts (weights, tokenizers, configs, binaries) from a
 * reference such as "hf:org/repo/file.gguf": resolve through a vendor
 * plugin, download verifiably, store by content, record in a catalog.
 * See docs/api.md.
 *
 * Every header of include/artifactprov/ is included here, except those of
 * include/artifactprov/sys/: store internals with no stability promise,
 * which a program includes by name when it accepts to follow their changes.
 */
#ifndef ARTIFACTPROV_H
#define ARTIFACTPROV_H

#include "artifactprov/version.h"
#include "artifactprov/common.h"
#include "artifactprov/cancel.h"
#include "artifactprov/events.h"
#include "artifactprov/tracker.h"
#include "artifactprov/vendor.h"
#include "artifactprov/store.h"
#include "artifactprov/catalog.h"
#include "artifactprov/provisioner.h"
#include "artifactprov/jobs.h"

#endif
