/* libartifactprov — internal: interoperate with local caches of other tools
 * (the Hugging Face hub cache and the Ollama model store), plus the
 * symlink-safe filesystem helpers that store.c, catalog.c and hfcache.c
 * share (defined in store.c).
 * SPDX-License-Identifier: MIT
 *
 * HF cache layout (as huggingface_hub writes it):
 *
 *     {cache}/{type}s--{org}--{name}/blobs/{etag}
 *     {cache}/{type}s--{org}--{name}/snapshots/{commit}/{relpath}
 *              -> relative symlink "../../[../...]blobs/{etag}"
 *     {cache}/{type}s--{org}--{name}/refs/{revision}   the commit, no newline
 *
 * {type} is "model", "dataset" or "space"; a repo id without an org ("gpt2")
 * maps to "models--gpt2".  {etag} is the sha256 of an LFS file, the git
 * blob sha1 of a regular file (lower-case hex, 64 or 40 digits).
 *
 * Ollama layout: {models}/manifests/{host}/{ns}/{model}/{tag} (JSON:
 * config + layers {mediaType, digest "sha256:<hex>", size}) and
 * {models}/blobs/sha256-<hex>.
 *
 * All writes are made below a directory fd opened component by component
 * with O_NOFOLLOW, so a symlink planted inside the cache cannot redirect
 * them; every name is validated with ap_path_validate() first.
 */
#ifndef AP_HFCACHE_H
#define AP_HFCACHE_H

#include <sys/stat.h>
#include <sys/types.h>

#include <artifactprov/store.h>

#include "internal.h"

/* ---- safe filesystem helpers (store.c) -------------------------------- */

/* Open the directory `rel` (a validated relative path, "" or NULL for
 * base itself) below base_fd, one component at a time with
 * O_DIRECTORY|O_NOFOLLOW, creating missing components (mode 0755) when
 * `create`.  Returns an fd (>= 0) or a negative ap_status (AP_EPATH when a
 * component is a symlink or not a directory, AP_EIO otherwise) with a
 * message in err. */
APX_HIDDEN int apx_fs_opendir_at(int base_fd, const char *rel, int create,
                                 apx_error *err);

/* Write data to dir_fd/name atomically: a temporary file in the same
 * directory, fsync, chmod `mode`, renameat over name, fsync the directory. */
APX_HIDDEN int apx_fs_write_atomic(int dir_fd, const char *name,
                                   const void *data, size_t len, mode_t mode,
                                   apx_error *err);

/* Open dir_fd/name for reading if it is a regular file: never follows a
 * final symlink (AP_EPATH) and never blocks — a FIFO, socket, device or
 * directory is refused (AP_EIO, "'<label>' is a FIFO, not a regular
 * file") without being opened for I/O; O_NONBLOCK is cleared on the fd
 * returned.  AP_ENOTFOUND when absent.  label (NULL: name) names the file
 * in messages; *st (may be NULL) receives its fstat. */
APX_HIDDEN int apx_fs_open_regular_at(int dir_fd, const char *name,
                                      const char *label, struct stat *st,
                                      apx_error *err);

/* The same for a path the caller chose (symlinks followed), for files
 * outside any cache (file:// URLs, ap_store_import). */
APX_HIDDEN int apx_fs_open_regular(const char *path, struct stat *st,
                                   apx_error *err);

/* Open the regular file rel below the directory root_fd, following
 * symlinks only while they stay below it: each component is opened with
 * O_NOFOLLOW, a link's target is read and walked the same way, ".." never
 * climbs above the root, an absolute target is accepted only when it names
 * a place below the root.  A link leading out is refused with AP_EPATH
 * and a message naming the link and its target; the final file is opened
 * with apx_fs_open_regular_at (no FIFO, socket or device).  *canon (may be
 * NULL) receives the resolved path relative to the root ("x/blobs/<etag>",
 * free with free()); root_label names the root in messages. */
APX_HIDDEN int apx_fs_open_beneath(int root_fd, const char *root_label,
                                   const char *rel, char **canon,
                                   struct stat *st, apx_error *err);

/* Import the open regular file src_fd into the store (see ap_store_import):
 * by reflink (FICLONE) where the file system can, else by copy through a
 * temporary name in staging/, hashing what was placed; by hard link only
 * with AP_IMPORT_LINK.  The sha256 and, when expect_git or git_out is
 * given, the git blob id are computed from the bytes; a mismatch with
 * expect_sha256 / expect_git is AP_EDIGEST with "'<label>': ... mismatch
 * (want W, got G)" in the store's error.  A copied blob is mode 0444 less
 * the read bits the source lacks. */
APX_HIDDEN int apx_store_import_fd(ap_store *store, int src_fd,
                                   const char *label,
                                   const char *expect_sha256,
                                   const char *expect_git, unsigned flags,
                                   char sha256_out[65], char git_out[41]);

/* Read a whole regular file (not following a final symlink) of at most
 * max bytes; *out is NUL-terminated, free with free().  AP_ENOTFOUND when
 * absent, AP_ESIZE when larger than max. */
APX_HIDDEN int apx_fs_read_file_at(int dir_fd, const char *name, size_t max,
                                   char **out, size_t *len, apx_error *err);

/* Copy the open file src_fd (from offset 0) into dir_fd/name through a
 * temporary name + fsync + chmod `mode` + renameat (replacing name),
 * hashing the bytes on the way into sha256_out (65 bytes, may be NULL).
 * When expect_sha256 is non-NULL and the bytes do not match, nothing is
 * renamed and AP_EDIGEST is returned. */
APX_HIDDEN int apx_fs_copy_atomic(int src_fd, int dir_fd, const char *name,
                                  mode_t mode, const char *expect_sha256,
                                  char *sha256_out, apx_error *err);

/* sha256 of an open file from offset 0 (hex into 65 bytes). */
APX_HIDDEN int apx_fs_hash_fd(int fd, char hex[65], uint64_t *size,
                              apx_error *err);

/* Remove dir_fd/name and everything below it without following symlinks
 * (depth <= 64).  AP_OK also when it does not exist. */
APX_HIDDEN int apx_fs_remove_tree_at(int dir_fd, const char *name,
                                     apx_error *err);

/* A unique temporary name ".ap-tmp-<pid>-<random>" (buf >= 48 bytes). */
APX_HIDDEN void apx_fs_tmpname(char *buf, size_t n);

/* 1 when name is a single valid path component (no '/'). */
APX_HIDDEN int apx_fs_valid_component(const char *name);

/* ---- Hugging Face cache ------------------------------------------------ */

/* The default HF hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else $HOME/.cache/huggingface/hub. */
APX_HIDDEN int apx_hf_default_cache(char **out);

/* "models--org--name" (repo_type NULL or "model"), "datasets--...",
 * "spaces--..." after validating the repo id (one or two components, no
 * "--").  Free with free(). */
APX_HIDDEN int apx_hf_repo_folder(const char *repo_type, const char *repo_id,
                                  char **out, apx_error *err);

/*
 * Publish one file of a repository into the cache:
 *   blobs/{etag}       a reflink of blob_path, else a copy (tmp + rename),
 *                      never a hard link (another program may write the
 *                      cache in place); left alone when already there
 *   snapshots/{commit}/{relpath}  relative symlink to ../../blobs/{etag}
 *                      (one more "../" per directory level of relpath),
 *                      replaced atomically
 *   refs/{revision}    the commit, no trailing newline (when revision is
 *                      non-NULL and is not the commit itself)
 * commit: 40 lower-case hex; etag: 40 or 64 lower-case hex; relpath and
 * revision are validated (AP_EPATH).  *out_path (may be NULL) receives the
 * snapshot path.
 */
APX_HIDDEN int apx_hf_publish(const char *cache, const char *repo_type,
                              const char *repo_id, const char *commit,
                              const char *revision, const char *relpath,
                              const char *etag, const char *blob_path,
                              char **out_path, apx_error *err);

/*
 * Find relpath of repo at revision (a branch/tag name resolved through
 * refs/, or a 40-hex commit) in the cache.  AP_OK with *out_path = the
 * resolved real path of the file (a regular file inside the cache) and
 * *out_commit (may be NULL; 41 bytes) the commit; AP_ENOTFOUND otherwise.
 */
APX_HIDDEN int apx_hf_lookup(const char *cache, const char *repo_type,
                             const char *repo_id, const char *revision,
                             const char *relpath, char **out_path,
                             char out_commit[41], apx_error *err);

/* One file found by apx_hf_scan (all borrowed for the callback). */
typedef struct apx_hf_file {
    const char *repo_type;    /* "model", "dataset", "space" */
    const char *repo_id;      /* "org/name" or "name" */
    const char *commit;       /* snapshot directory name */
    const char *relpath;      /* path inside the snapshot */
    const char *path;         /* the snapshot entry (usually a symlink) */
    const char *blob_path;    /* resolved path, inside the cache */
    const char *etag;         /* blob file name when it is in blobs/, or NULL:
                                 a *claim* of the cache, never a digest */
    uint64_t size;
    int fd;                   /* the resolved regular file, open for reading
                                 (read from it, not from blob_path) */
} apx_hf_file;

typedef int (*apx_hf_scan_cb)(const apx_hf_file *file, void *user);
/* Told why an entry was skipped (message names the entry and the cause). */
typedef void (*apx_scan_warn_cb)(const char *msg, void *user);

/* Walk {cache}/{models,datasets,spaces}--ORG--NAME/snapshots/<commit>/ recursively
 * (depth <= 32) and call cb for each regular file reached: symlinks are
 * resolved with apx_fs_open_beneath and must stay inside the cache; FIFOs,
 * sockets and devices are never opened.  A non-zero return from cb stops
 * the walk with AP_EUSER.  *n_skipped (may be NULL) counts entries skipped
 * as unsafe or unreadable, and warn (may be NULL) is told why. */
APX_HIDDEN int apx_hf_scan(const char *cache, apx_hf_scan_cb cb, void *user,
                           apx_scan_warn_cb warn, size_t *n_skipped,
                           apx_error *err);

/* ---- Ollama ------------------------------------------------------------- */

/* $OLLAMA_MODELS, else $HOME/.ollama/models. */
APX_HIDDEN int apx_ollama_default_dir(char **out);

typedef struct apx_ollama_layer {
    const char *media_type;   /* "application/vnd.ollama.image.model", ... */
    const char *digest;       /* 64 lower-case hex (without "sha256:") */
    uint64_t size;
    const char *blob_path;    /* {models}/blobs/sha256-<hex> */
    int present;              /* blob exists as a regular file of that size */
    int fd;                   /* when present: the blob, open for reading */
} apx_ollama_layer;

typedef struct apx_ollama_model {
    const char *host;         /* "registry.ollama.ai" */
    const char *ns;           /* "library" */
    const char *model;        /* "llama3" */
    const char *tag;          /* "latest" */
    const char *manifest_path;
    const apx_ollama_layer *config;   /* NULL when the manifest has none */
    const apx_ollama_layer *layers;
    size_t nlayers;
} apx_ollama_model;

typedef int (*apx_ollama_scan_cb)(const apx_ollama_model *model, void *user);

/* Walk {models}/manifests/<host>/<ns>/<model>/<tag> and call cb for each
 * valid manifest (<= 1 MiB of JSON, digests "sha256:<64 hex>").  Invalid
 * manifests (also symlinks, FIFOs...) are counted in *n_skipped (may be
 * NULL) and warn (may be NULL) is told why.  Blobs are opened below
 * {models}/blobs without following symlinks and without blocking.  Non-zero from cb
 * stops with AP_EUSER. */
APX_HIDDEN int apx_ollama_scan(const char *models_dir, apx_ollama_scan_cb cb,
                               void *user, apx_scan_warn_cb warn,
                               size_t *n_skipped, apx_error *err);

#endif
