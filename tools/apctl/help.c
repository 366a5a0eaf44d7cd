/* apctl — `apctl --help` and `apctl CMD --help`.
 * SPDX-License-Identifier: MIT
 *
 * Each command has a synopsis (listed by `apctl --help`, one command per
 * line at two spaces, which the tests read to find every command) and a
 * description of its options (`apctl CMD --help`).  man/apctl.1 describes
 * every option named here (t/integration/docs.t). */
#include "apctl.h"

#include <string.h>

typedef struct help_entry {
    const char *name;
    const char *synopsis; /* after "apctl NAME " */
    const char *text;
} help_entry;

static const char pull_opts[] =
    "  --json                print the entry (entries) as JSON on stdout\n"
    "  -q, --quiet           no progress, no summary (errors still)\n"
    "  --events              one JSON object per event on stderr, flushed per\n"
    "                        line (instead of the progress display)\n"
    "  --force               fetch again even when present\n"
    "  --refresh             fail instead of using a ready entry when the\n"
    "                        origin cannot be reached\n"
    "  --require-verified    refuse files the vendor gives no digest or\n"
    "                        signature for\n"
    "  --include GLOB, --exclude GLOB   filter the files (repeatable)\n"
    "  --jobs N              several REFs: N at a time (4)\n"
    "  --connections N       parallel connections, fixed (default: 8, more up to\n"
    "                        16 while the total rate grows)\n"
    "  --chunk-size SIZE     bytes per ranged request (8M)\n"
    "  --max-rate SIZE       bandwidth cap, bytes per second\n"
    "  --per-host N          connections to one host\n"
    "  --max-attempts N      tries per range (5)\n"
    "  --heartbeat MS        liveness events while stalled (1000)\n"
    "  --stall-timeout MS    no byte for this long: retry (30000)\n"
    "  --min-rate SIZE       slower than this (bytes/s) for --min-rate-window MS\n"
    "                        is a stall\n"
    "  --max-size SIZE       cap on a body of unknown length\n"
    "  --max-files N         most files one entry may have (4096)\n"
    "  --drop-partial        on failure, delete what was fetched (no resume)\n"
    "  --cacert FILE         CA certificates trusted for TLS\n"
    "  --mirror BASE         try BASE/sha256/<hex> before the origin; PREFIX=BASE\n"
    "                        stands for file URLs under PREFIX (repeatable;\n"
    "                        AP_MIRRORS when none given; docs/fleet.md)\n"
    "  --hf-cache=DIR        also publish into a Hugging Face cache\n"
    "                        (-o hf_cache_publish=DIR)\n"
    "  --ollama-models[=DIR] also publish into an Ollama store (-o ollama_models=DIR;\n"
    "                        no DIR: $OLLAMA_MODELS or ~/.ollama/models)\n"
    "  -o KEY=VALUE          an option for the vendor (repeatable); -o env:NAME=V\n"
    "                        overrides the variable NAME for this request\n"
    "SIZE takes a suffix: 512K, 10M, 1G (powers of 1024); a plain number is bytes.\n"
    "On a terminal: a bar per active file and a total, fitted to its width;\n"
    "otherwise a plain progress line every few seconds or 10 %; then a summary.\n";

static const help_entry commands[] = {
    { "pull", "[OPTIONS] REF [REF...]",
      "Provision REF(s): resolve, fetch what the store lacks, verify, record;\n"
      "print where the files are.\n" },
    { "sync", "[OPTIONS] REF",
      "Record the file list of REF with sizes and digests, fetch only the small\n"
      "(< 10 MB) metadata files; a later pull fetches the rest.  Options of pull.\n" },
    { "scan", "[--dry-run] [VENDOR[=DIR]]... [--hf-cache[=DIR]] [--ollama[=DIR]]",
      "Import what foreign caches hold (no download), through each vendor's scan\n"
      "(none named: every vendor that can); a cache that does not exist is\n"
      "reported and skipped.\n"
      "  --hf-cache[=DIR]      the Hugging Face cache (huggingface vendor)\n"
      "  --ollama[=DIR]        the Ollama store (ollama vendor)\n"
      "  -n, --dry-run         say what would be imported; store nothing\n" },
    { "ls", "[--json] [--status STATUS]",
      "List catalog entries.\n"
      "  --json                as a JSON array\n"
      "  --status STATUS       only entries in STATUS: ready, pending, downloading,\n"
      "                        failed, cancelled\n" },
    { "show", "[--json] REF|ID",
      "Show one entry.\n"
      "  --json                as JSON\n" },
    { "path", "REF|ID [FILE]",
      "Print the local path of the files of an entry (or of FILE).\n" },
    { "rm", "REF|ID",
      "Remove an entry; its blobs go at the next gc when no one else uses them.\n" },
    { "verify", "[--remove]",
      "Re-hash every blob.\n"
      "  --remove              remove the corrupt ones\n" },
    { "gc", "[--failed-age DAYS]",
      "Remove unreferenced blobs, partial downloads no pull can resume or left\n"
      "untouched for a day, and the entries of pulls that failed or were\n"
      "cancelled more than DAYS ago.\n"
      "  --failed-age DAYS     age of a failed entry that goes (7; 0: all)\n" },
    { "vendors", "",
      "List the loaded vendors, their schemes and reference grammar, and the\n"
      "directories searched.\n" },
    { "version", "", "Print the versions of apctl, the library and the vendor ABI.\n" },
    { "help", "[COMMAND]", "Print this help, or a command's.\n" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The reference grammar of the vendors that load: each vendor's usage line. */
static void print_references(FILE *f)
{
    ap_vendor_set *set = NULL;
    size_t i, n = 0;
    int init = ap_global_init() == AP_OK;
    if (init && ap_vendor_set_new(&set) == AP_OK) {
        ap_vendor_set_load_path(set, apctl_vendor_path());
        n = ap_vendor_set_count(set);
    }
    fputs("references (vendors loaded):\n", f);
    for (i = 0; i < n; i++) {
        ap_vendor_info vi;
        if (ap_vendor_set_info(set, i, &vi) != AP_OK)
            continue;
        if (vi.usage[0])
            fprintf(f, "  %s\n", vi.usage);
        else
            fprintf(f, "  %s:...  (vendor %s)\n", vi.schemes[0], vi.name);
    }
    if (!n)
        fprintf(f, "  none: no vendor loaded (searched %s; set AP_VENDOR_PATH)\n",
                apctl_vendor_dirs_text());
    ap_vendor_set_free(set);
    if (init)
        ap_global_cleanup();
}

void usage(FILE *f)
{
    size_t i;
    fputs("usage: apctl [--link] COMMAND [OPTIONS] [ARGS]\n"
          "  --link                import from foreign caches (HF cache, Ollama,\n"
          "                        local copies) by hard link: trusts that cache,\n"
          "                        whose in-place writes then change the store\n"
          "commands (`apctl COMMAND --help` for one):\n", f);
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s%s%s\n", commands[i].name, commands[i].synopsis[0] ? " " : "",
                commands[i].synopsis);
    fputs("options of pull and sync:\n", f);
    fputs(pull_opts, f);
    fputs(apctl_exit_help, f);
    fputs("environment: AP_HOME, AP_VENDOR_PATH; each vendor reads its own\n"
          "             (e.g. HF_ENDPOINT, HF_TOKEN), overridable with -o env:NAME=V\n", f);
    print_references(f);
}

int command_help(const char *cmd, FILE *f)
{
    size_t i;
    if (!cmd) {
        usage(f);
        return 0;
    }
    for (i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, cmd) != 0)
            continue;
        fprintf(f, "usage: apctl %s%s%s\n%s", cmd, commands[i].synopsis[0] ? " " : "",
                commands[i].synopsis, commands[i].text);
        if (!strcmp(cmd, "pull") || !strcmp(cmd, "sync"))
            fputs(pull_opts, f);
        fputs(apctl_exit_help, f);
        return 0;
    }
    return -1;
}
