/* apctl — declarations shared by the files of the program.
 * SPDX-License-Identifier: MIT
 *
 * One concept per file:
 *   main.c          global options, the command table, dispatch, `help`
 *   session.c       a command's provisioner, cancel token, signals, clock
 *   help.c          `apctl --help` and `apctl CMD --help`
 *   options.c       the option parser every command uses
 *   sizes.c         numbers with suffixes (10M, 1GiB) and human sizes
 *   exitcodes.c     ap_status -> exit status classes
 *   output.c        terminal-safe text, JSON output
 *   vendorpath.c    where the vendor plugins are looked for
 *   pull.c          pull / sync of one reference
 *   pull_many.c     several references as jobs
 *   progress.c      the event sink of a pull: picks the displays below
 *   progress_tty.c  bars on a terminal, fitted to its width
 *   progress_log.c  plain lines at a steady cadence (not a terminal)
 *   events.c        --events: one JSON object per line
 *   cmd_catalog.c   ls, show, path, rm
 *   cmd_store.c     verify, gc
 *   cmd_scan.c      scan
 *   cmd_vendors.c   vendors */
#ifndef APCTL_H
#define APCTL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <artifactprov.h>

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* ---- exit statuses (exitcodes.c) ---- */
enum {
    APCTL_EXIT_OK = 0,
    APCTL_EXIT_FAILURE = 1,   /* anything else: local I/O, no space, ... */
    APCTL_EXIT_USAGE = 2,     /* bad option, argument or reference */
    APCTL_EXIT_REFUSED = 3,   /* not found, refused: permanent */
    APCTL_EXIT_TEMPORARY = 4, /* network or server trouble: worth a retry */
    APCTL_EXIT_INTEGRITY = 5, /* digest, size or stored data wrong */
    APCTL_EXIT_CANCELLED = 130
};
/* The exit status for an ap_status (AP_OK -> 0). */
int apctl_exit_code(int status);
/* The classes, for --help and the man page. */
extern const char apctl_exit_help[];

/* ---- output.c ---- */
const char *T(const char *s);
int put_json(FILE *f, json_t *j, int compact);
/* Write the JSON text js to f as it is but ASCII: every character beyond
 * it, which only a string holds, as \uXXXX (a surrogate pair above
 * U+FFFF), as jansson's JSON_ENSURE_ASCII writes them: no raw C1 control
 * reaches a terminal.  For the library's documents, too big for a jansson
 * value (an entry of 100,000 files).  0 on success. */
int put_json_ascii(FILE *f, const char *js);

/* ---- sizes.c ---- */
/* "10M", "1MiB", "512k", "4096": 0 and *out set, or -1. */
int apctl_parse_size(const char *s, uint64_t *out);
/* A plain decimal number: 0 and *out set, or -1. */
int apctl_parse_uint(const char *s, uint64_t *out);
void human(uint64_t n, char *buf, size_t sz);
/* "1:02:03", "4:05", "7s"; "--" for a negative value. */
void human_secs(double s, char *buf, size_t sz);

/* ---- options.c ---- */
enum { OPT_NONE = 0, OPT_REQ = 1, OPT_OPTIONAL = 2 };
typedef struct apctl_opt {
    const char *name; /* "--max-rate"; a short form in `alias` */
    const char *alias; /* "-q", or NULL */
    int arg;          /* OPT_NONE, OPT_REQ (--x V or --x=V), OPT_OPTIONAL (--x[=V]) */
    int id;
} apctl_opt;
typedef struct apctl_args {
    const char *cmd;
    int argc, i;
    char **argv;
    int no_more_opts;
} apctl_args;
/* Next argument: returns an option's id (> 0) with *val its value (NULL
 * when none), 0 for an operand (*val), -1 at the end.  --help/-h prints
 * the command's help and exits 0; an unknown option or a missing value
 * prints a usage error and exits APCTL_EXIT_USAGE. */
int apctl_next(apctl_args *a, const apctl_opt *opts, const char **val);
/* An option's numeric value: exits APCTL_EXIT_USAGE when it is not one. */
uint64_t apctl_num(const char *cmd, const char *opt, const char *val, int sizes);
/* "apctl CMD: MESSAGE" and the hint, exit APCTL_EXIT_USAGE. */
void apctl_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* ---- help.c ---- */
void usage(FILE *f);
/* The help of one command; 0, or -1 when there is no such command. */
int command_help(const char *cmd, FILE *f);

/* ---- vendorpath.c ---- */
/* The vendor directories apctl uses: $AP_VENDOR_PATH when set, else the
 * directory beside the executable ("vendors"), ../lib/artifactprov/vendors
 * from it, and the compiled-in vendordir, those that exist. */
const char *apctl_vendor_path(void);
/* The directories searched, for messages ("a, b, c"). */
const char *apctl_vendor_dirs_text(void);

/* ---- main.c: the global options ---- */
extern unsigned g_prov_flags;
int open_prov(ap_provisioner **p);
void apctl_provisioner_options(ap_provisioner_options *po);

/* ---- progress*.c, events.c ---- */
/* What the displays know of the jobs of a pull (progress.c). */
#define PROG_MAX_JOBS 64
#define PROG_MAX_FILES 8
typedef struct prog_job {
    ap_job_id id;
    char ref[256];
    uint64_t done, total, fetched;
    double rate, eta, elapsed, idle;
    unsigned files_done, files_total;
    int started;      /* transfers began (START) */
    int ended;
    int moved;        /* a file was fetched or imported (FILE_DONE, bytes) */
    double log_at;    /* progress_log.c: elapsed at the last line */
    int log_step;     /* ... and its tenth of the total */
} prog_job;
typedef struct prog_file {
    ap_job_id job;
    char name[256];
    uint64_t done, total;
} prog_file;
typedef struct tty_state {
    int width;            /* columns, from TIOCGWINSZ */
    size_t nlines;        /* lines on screen */
    size_t len[PROG_MAX_FILES + 2]; /* their lengths, for a redraw after a resize */
    double drawn_at;      /* monotonic seconds of the last draw */
} tty_state;
typedef struct pull_ui {
    int quiet;
    int events;      /* --events: JSON lines on stderr */
    int tty;         /* stderr is a terminal: bars; else log lines */
    void *lock;      /* pthread mutex: several jobs deliver at once */
    prog_job jobs[PROG_MAX_JOBS];
    size_t njobs;
    prog_file files[PROG_MAX_FILES];
    size_t nfiles;
    tty_state t;
} pull_ui;
int pull_ui_init(pull_ui *ui, int quiet, int events);
void pull_ui_done(pull_ui *ui);
/* The event sink (ap_event_cb) of a pull. */
int pull_ui_event(const ap_event *ev, void *user);
/* 1 when job `id` fetched or imported something. */
int pull_ui_moved(pull_ui *ui, ap_job_id id);
/* The final summary line, after a successful pull (not --quiet). */
void pull_ui_summary(pull_ui *ui, const char *what, size_t files, double secs);
/* Erase the bars before other text goes to stderr. */
void pull_ui_clear(pull_ui *ui);
double mono_secs(void);

void tty_draw(pull_ui *ui, int force);
void tty_clear(pull_ui *ui);
void tty_resized(void);  /* SIGWINCH: measure the width again */
/* The lines for a width (tests read them through the pty). */
size_t tty_render(const pull_ui *ui, int width, char lines[][512], size_t max);
void log_job(pull_ui *ui, prog_job *j);

int events_write(FILE *f, const ap_event *ev);

/* ---- commands ---- */
int cmd_pull(int argc, char **argv, unsigned flags);
void pull_failed(int rc, const char *msg);
int pull_many(char **refs, size_t n, const ap_provision_options *o,
              unsigned njobs, int json, pull_ui *ui);
const ap_entry_file *file_named(const ap_entry *e, const char *what);
int print_entry_json(const ap_entry *e);
int print_entries_json(ap_entry *const *list, size_t n);
void print_pulled_paths(const ap_entry *e, const char *ref);
int cmd_scan(int argc, char **argv);
int cmd_vendors(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_path(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

/* Signals: Ctrl-C/SIGTERM trigger g_cancel. */
extern ap_cancel_token *g_cancel;
int signals_catch(void);
void signals_release(void);

#endif
