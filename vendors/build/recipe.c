/* libartifactprov — the build vendor: recipes (strict JSON) and the
 * placeholders of their command and environment.
 * SPDX-License-Identifier: MIT */
#include "build.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

static void free_list(char **v, size_t n)
{
    size_t i;
    for (i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void brecipe_free(brecipe *r)
{
    free(r->path);
    free(r->name);
    free_list(r->argv, r->argc);
    free_list(r->env_keys, r->nenv);
    free_list(r->env_vals, r->nenv);
    free_list(r->in_names, r->nin);
    free_list(r->in_refs, r->nin);
    free_list(r->outputs, r->nout);
    memset(r, 0, sizeof *r);
}

static int ident(const char *s, size_t max)
{
    size_t i;
    if (!s[0] || strlen(s) > max || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* A relative path of the work directory: no absolute path, no empty, "."
 * or ".." component, no control character, no backslash. */
static const char *bad_output(const char *p)
{
    const char *c = p;
    size_t i;
    if (!*p)
        return "is empty";
    if (*p == '/')
        return "is absolute";
    for (i = 0; p[i]; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
            return "contains a control character or a backslash";
    while (*c) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.'))
            return "has an empty or \".\" component";
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return "has a \"..\" component (outputs stay in the work directory)";
        c += n;
        if (*c == '/')
            c++;
        if (!*c && c[-1] == '/')
            return "ends with '/'";
    }
    return NULL;
}

static int oom(const ap_host *h, ap_vendor_call *call)
{
    return h->set_error(call, AP_ENOMEM, "out of memory");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int brecipe_parse(const ap_host *h, ap_vendor_call *call, const char *ref,
                  const char *path, const char *bytes, size_t len, brecipe *r)
{
    static const char *const known[] = { "name", "description", "inputs", "command",
                                         "shell", "env", "outputs", NULL };
    json_error_t jerr;
    json_t *root, *v, *x;
    const char *key;
    size_t i, k;
    int rc = AP_OK;

    memset(r, 0, sizeof *r);
    root = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return h->set_error(call, AP_EINVAL, "%s: recipe %s is not valid JSON: %s "
                            "(line %d)", ref, path, jerr.text, jerr.line);
    if (!json_is_object(root)) {
        rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: not a JSON object", ref, path);
        goto out;
    }
    json_object_foreach(root, key, v) {
        for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
            ;
        if (!known[i]) {
            rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: unknown key \"%s\" "
                              "(known: name, description, inputs, command, shell, "
                              "env, outputs)", ref, path, key);
            goto out;
        }
    }
    if (!(r->path = strdup(path))) {
        rc = oom(h, call);
        goto out;
    }
    /* name: the recipe's, else the file name without ".json" */
    if ((v = json_object_get(root, "name"))) {
        if (!json_is_string(v) || !json_string_length(v) || strchr(json_string_value(v), '/') ||
            json_string_value(v)[0] == '.') {
            rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"name\" must be a "
                              "non-empty string without '/' or a leading '.'", ref, path);
            goto out;
        }
        r->name = strdup(json_string_value(v));
    } else {
        const char *b = strrchr(path, '/');
        size_t n;
        b = b ? b + 1 : path;
        n = strlen(b);
        if (n > 5 && strcmp(b + n - 5, ".json") == 0)
            n -= 5;
        r->name = strndup(b, n);
    }
    if (!r->name) {
        rc = oom(h, call);
        goto out;
    }
    if ((v = json_object_get(root, "description")) && !json_is_string(v)) {
        rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"description\" must be a "
                          "string", ref, path);
        goto out;
    }
    v = json_object_get(root, "shell");
    if (v && !json_is_boolean(v)) {
        rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"shell\" must be true or "
                          "false", ref, path);
        goto out;
    }
    r->shell = v && json_is_true(v);
    /* command: argv array, or with "shell": true one string for /bin/sh -c */
    v = json_object_get(root, "command");
    if (r->shell) {
        if (!json_is_string(v) || !json_string_length(v)) {
            rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: with \"shell\": true, "
                              "\"command\" must be a non-empty string", ref, path);
            goto out;
        }
        r->argc = 1;
        r->argv = calloc(1, sizeof *r->argv);
        if (!r->argv || !(r->argv[0] = strdup(json_string_value(v)))) {
            rc = oom(h, call);
            goto out;
        }
    } else {
        if (!json_is_array(v) || !json_array_size(v)) {
            rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"command\" must be a "
                              "non-empty array of strings (argv; no shell unless "
                              "\"shell\": true)", ref, path);
            goto out;
        }
        r->argv = calloc(json_array_size(v), sizeof *r->argv);
        if (!r->argv) {
            rc = oom(h, call);
            goto out;
        }
        json_array_foreach(v, i, x) {
            if (!json_is_string(x) || (i == 0 && !json_string_length(x))) {
                rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"command\"[%zu] "
                                  "must be a%s string", ref, path, i,
                                  i == 0 ? " non-empty" : "");
                goto out;
            }
            if (!(r->argv[r->argc++] = strdup(json_string_value(x)))) {
                rc = oom(h, call);
                goto out;
            }
        }
    }
    /* env: explicit name → value */
    if ((v = json_object_get(root, "env"))) {
        if (!json_is_object(v)) {
            rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"env\" must be an "
                              "object of strings", ref, path);
            goto out;
        }
        r->env_keys = calloc(json_object_size(v) + 1, sizeof *r->env_keys);
        r->env_vals = calloc(json_object_size(v) + 1, sizeof *r->env_vals);
        if (!r->env_keys || !r->env_vals) {
            rc = oom(h, call);
            goto out;
        }
        json_object_foreach(v, key, x) {
            if (!ident(key, 128) || !json_is_string(x)) {
                rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: env \"%s\": want a "
                                  "name of letters, digits and '_' and a string value",
                                  ref, path, key);
                goto out;
            }
            r->env_keys[r->nenv] = strdup(key);
            r->env_vals[r->nenv] = strdup(json_string_value(x));
            if (!r->env_keys[r->nenv++] || !r->env_vals[r->nenv - 1]) {
                rc = oom(h, call);
                goto out;
            }
        }
    }
    /* inputs: name → reference, sorted by name */
    if ((v = json_object_get(root, "inputs"))) {
        const char **names;
        if (!json_is_object(v)) {
            rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"inputs\" must be an "
                              "object (name → reference)", ref, path);
            goto out;
        }
        names = calloc(json_object_size(v) + 1, sizeof *names);
        r->in_names = calloc(json_object_size(v) + 1, sizeof *r->in_names);
        r->in_refs = calloc(json_object_size(v) + 1, sizeof *r->in_refs);
        if (!names || !r->in_names || !r->in_refs) {
            free(names);
            rc = oom(h, call);
            goto out;
        }
        k = 0;
        json_object_foreach(v, key, x) {
            if (!ident(key, 64) || !json_is_string(x) || !json_string_length(x)) {
                free(names);
                rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: input \"%s\": want a "
                                  "name of letters, digits and '_' and a reference",
                                  ref, path, key);
                goto out;
            }
            names[k++] = key;
        }
        qsort(names, k, sizeof *names, cmp_str);
        for (i = 0; i < k; i++) {
            r->in_names[i] = strdup(names[i]);
            r->in_refs[i] = strdup(json_string_value(json_object_get(v, names[i])));
            r->nin++;
            if (!r->in_names[i] || !r->in_refs[i]) {
                free(names);
                rc = oom(h, call);
                goto out;
            }
        }
        free(names);
    }
    /* outputs: relative paths in the work directory */
    v = json_object_get(root, "outputs");
    if (!json_is_array(v) || !json_array_size(v)) {
        rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: \"outputs\" must be a "
                          "non-empty array of relative paths", ref, path);
        goto out;
    }
    r->outputs = calloc(json_array_size(v), sizeof *r->outputs);
    if (!r->outputs) {
        rc = oom(h, call);
        goto out;
    }
    json_array_foreach(v, i, x) {
        const char *why = json_is_string(x) ? bad_output(json_string_value(x))
                                            : "is not a string";
        if (why) {
            rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: output \"%s\" %s", ref,
                              path, json_is_string(x) ? json_string_value(x) : "?", why);
            goto out;
        }
        for (k = 0; k < r->nout; k++)
            if (strcmp(r->outputs[k], json_string_value(x)) == 0) {
                rc = h->set_error(call, AP_EINVAL, "%s: recipe %s: output \"%s\" is "
                                  "listed twice", ref, path, r->outputs[k]);
                goto out;
            }
        if (!(r->outputs[r->nout++] = strdup(json_string_value(x)))) {
            rc = oom(h, call);
            goto out;
        }
    }
out:
    json_decref(root);
    if (rc != AP_OK)
        brecipe_free(r);
    return rc;
}

/* Append n bytes of s to the growing string *b. */
static int append(char **b, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *g = realloc(*b, c);
        if (!g)
            return -1;
        *b = g;
        *cap = c;
    }
    memcpy(*b + *len, s, n);
    *len += n;
    (*b)[*len] = '\0';
    return 0;
}

static int append_value(char **b, size_t *len, size_t *cap, const char *v, int quote)
{
    const char *p;
    if (!quote)
        return append(b, len, cap, v, strlen(v));
    if (append(b, len, cap, "'", 1))
        return -1;
    for (p = v; *p; p++)
        if (*p == '\'' ? append(b, len, cap, "'\\''", 4) : append(b, len, cap, p, 1))
            return -1;
    return append(b, len, cap, "'", 1);
}

char *bexpand(const ap_host *h, ap_vendor_call *call, const char *ref, const brun *run,
              const char *s, const char *workdir, int quote)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    const char *p = s;

    if (append(&b, &len, &cap, "", 0))
        goto nomem;
    while (*p) {
        const char *val = NULL;
        size_t skip = 0;
        if (strncmp(p, "{workdir}", 9) == 0) {
            val = workdir ? workdir : "";
            skip = 9;
        } else if (strncmp(p, "{input:", 7) == 0) {
            const char *end = strchr(p + 7, '}');
            const char *slash;
            size_t nl, i, hits = 0;
            if (!end) {
                h->set_error(call, AP_EINVAL, "%s: recipe %s: unterminated placeholder "
                             "in \"%s\"", ref, run->r.path, s);
                free(b);
                return NULL;
            }
            slash = memchr(p + 7, '/', (size_t)(end - (p + 7)));
            nl = (size_t)((slash ? slash : end) - (p + 7));
            for (i = 0; i < run->nfiles; i++) {
                const binput_file *f = &run->files[i];
                if (strlen(f->input) != nl || strncmp(f->input, p + 7, nl) != 0)
                    continue;
                if (slash && (strlen(f->path) != (size_t)(end - slash - 1) ||
                              strncmp(f->path, slash + 1, (size_t)(end - slash - 1)) != 0))
                    continue;
                hits++;
                val = f->blob;
            }
            if (hits != 1) {
                h->set_error(call, AP_EINVAL, "%s: recipe %s: placeholder %.*s %s", ref,
                             run->r.path, (int)(end - p + 1), p,
                             hits ? "names an input of several files (use "
                                    "{input:NAME/PATH})"
                                  : "names no input file of the recipe");
                free(b);
                return NULL;
            }
            skip = (size_t)(end - p + 1);
        }
        if (val) {
            if (append_value(&b, &len, &cap, val, quote))
                goto nomem;
            p += skip;
        } else {
            if (append(&b, &len, &cap, p, 1))
                goto nomem;
            p++;
        }
    }
    return b;
nomem:
    free(b);
    h->set_error(call, AP_ENOMEM, "out of memory");
    return NULL;
}
