/* apctl — progress on a terminal: a line per file being fetched and a
 * total, redrawn in place, fitted to the terminal's width.
 * SPDX-License-Identifier: MIT
 *
 *   x.Q4_K_M.gguf  [##########..........]  1.2 GiB / 2.4 GiB  50%
 *   [##########..........]  1.2 GiB / 2.9 GiB  41%  52.1 MiB/s  ETA 0:33  1/3 files
 *
 * Every line is shorter than the width (a line as wide as the terminal
 * would wrap on some terminals): the bar takes what the text leaves, a
 * long name is shortened first, then the bar goes, then the text is cut.
 * SIGWINCH (a resize) makes the next draw measure the width again; the
 * lines drawn at the old width are erased by the number of rows they take
 * at the new one.  The ETA follows the recent rate (the library's rate is
 * a moving average over the last seconds). */
#include "apctl.h"

#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t g_resized = 1;

void tty_resized(void)
{
    g_resized = 1;
}

/* Columns of a terminal-safe UTF-8 string (continuation bytes take none). */
static size_t cols(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Copy at most `max` columns of s into out (size outsz), whole characters. */
static void cut(char *out, size_t outsz, const char *s, size_t max)
{
    size_t o = 0, c = 0;
    while (*s && o + 4 < outsz) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            if (c == max)
                break;
            c++;
        }
        out[o++] = *s++;
    }
    while (*s && ((unsigned char)*s & 0xC0) == 0x80 && o + 1 < outsz)
        out[o++] = *s++;
    out[o] = '\0';
}

/* "name  [bar]  text" in fewer than `width` columns, with the first of the
 * texts (longest first) that leaves a bar of 10 or more. */
static int try_fit(char *out, size_t outsz, const char *nm, const char *text,
                   double frac, size_t avail)
{
    size_t nl = cols(nm), fixed = (nl ? nl + 2 : 0) + 2 + 2 + cols(text), bar, i, o;
    if (fixed + 10 > avail)
        return 0;
    bar = avail - fixed;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    o = (size_t)snprintf(out, outsz, "%s%s[", nm, nl ? "  " : "");
    for (i = 0; i < bar && o + 1 < outsz; i++)
        out[o++] = i < (size_t)(frac * (double)bar) ? '#' : '.';
    snprintf(out + o, outsz - o, "]  %s", text);
    return 1;
}

static void fit(char *out, size_t outsz, const char *name, const char *const *texts,
                size_t ntexts, double frac, int width)
{
    size_t avail = width > 1 ? (size_t)width - 1 : 0, k;
    char shortname[300], line[800];
    for (k = 0; k < ntexts; k++)
        if (try_fit(out, outsz, name, texts[k], frac, avail))
            return;
    /* a long name: its end, which tells the files of a repository apart */
    if (cols(name) > 16) {
        const char *tail = name;
        size_t skip = cols(name) - 13;
        while (skip && *tail) {
            tail++;
            if (((unsigned char)*tail & 0xC0) != 0x80)
                skip--;
        }
        snprintf(shortname, sizeof shortname, "...%s", tail);
        name = shortname;
        for (k = 0; k < ntexts; k++)
            if (try_fit(out, outsz, name, texts[k], frac, avail))
                return;
    }
    /* no room for a bar: the shortest text, cut to the width */
    snprintf(line, sizeof line, "%s%s%s", name, *name ? "  " : "", texts[ntexts - 1]);
    cut(out, outsz, line, avail);
}

size_t tty_render(const pull_ui *ui, int width, char lines[][512], size_t max)
{
    uint64_t done = 0, total = 0;
    double rate = 0, idle = 0, pct;
    unsigned fd = 0, ft = 0;
    size_t n = 0, i;
    char t[4][200], a[32], b[32], r[32], e[32];
    const char *texts[4] = { t[0], t[1], t[2], t[3] };
    for (i = 0; i < ui->nfiles && n + 1 < max; i++) {
        const prog_file *f = &ui->files[i];
        human(f->done, a, sizeof a);
        human(f->total, b, sizeof b);
        pct = f->total ? 100.0 * (double)f->done / (double)f->total : 0;
        if (f->total) {
            snprintf(t[0], sizeof t[0], "%s / %s  %3.0f%%", a, b, pct);
            snprintf(t[1], sizeof t[1], "%3.0f%%", pct);
        } else {
            snprintf(t[0], sizeof t[0], "%s", a);
            snprintf(t[1], sizeof t[1], "%s", a);
        }
        fit(lines[n++], 512, f->name, texts, 2,
            f->total ? (double)f->done / (double)f->total : 0, width);
    }
    for (i = 0; i < ui->njobs; i++) {
        const prog_job *j = &ui->jobs[i];
        done += j->done;
        total += j->total;
        if (!j->ended) {
            rate += j->rate;
            if (j->idle > idle)
                idle = j->idle;
        }
        fd += j->files_done;
        ft += j->files_total;
    }
    if (n >= max)
        return n;
    human(done, a, sizeof a);
    human(total, b, sizeof b);
    human((uint64_t)rate, r, sizeof r);
    human_secs(total > done && rate > 1 ? (double)(total - done) / rate
               : total && done >= total ? 0 : -1, e, sizeof e);
    pct = total ? 100.0 * (double)done / (double)total : 0.0;
    snprintf(t[0], sizeof t[0], "%s / %s  %3.0f%%  %s/s  ETA %s  %u/%u files%s", a, b,
             pct, r, e, fd, ft, idle >= 2 ? "  (stalled)" : "");
    snprintf(t[1], sizeof t[1], "%s / %s  %3.0f%%  %s/s  ETA %s%s", a, b, pct, r, e,
             idle >= 2 ? "  (stalled)" : "");
    snprintf(t[2], sizeof t[2], "%3.0f%%  %s/s  ETA %s", pct, r, e);
    snprintf(t[3], sizeof t[3], "%3.0f%%  ETA %s", pct, e);
    fit(lines[n++], 512, "", texts, 4, total ? (double)done / (double)total : 0, width);
    return n;
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Erase what was drawn: up to its first row, then to the end of screen. */
static void erase(pull_ui *ui)
{
    size_t rows = 0, i;
    int w = ui->t.width > 0 ? ui->t.width : 80;
    if (!ui->t.nlines)
        return;
    for (i = 0; i < ui->t.nlines; i++)
        rows += ui->t.len[i] ? (ui->t.len[i] + (size_t)w - 1) / (size_t)w : 1;
    if (rows > 1)
        fprintf(stderr, "\033[%zuA", rows - 1);
    fputs("\r\033[J", stderr);
    ui->t.nlines = 0;
}

void tty_clear(pull_ui *ui)
{
    erase(ui);
    fflush(stderr);
}

void tty_draw(pull_ui *ui, int force)
{
    char lines[PROG_MAX_FILES + 2][512];
    size_t n, i;
    double now = mono_secs();
    if (!force && !g_resized && now - ui->t.drawn_at < 0.1)
        return;
    if (g_resized) {
        g_resized = 0;
        ui->t.width = term_width(); /* erase() counts rows at the new width */
    }
    n = tty_render(ui, ui->t.width, lines, PROG_MAX_FILES + 1);
    erase(ui);
    for (i = 0; i < n; i++) {
        fprintf(stderr, "%s%s", i ? "\n" : "", lines[i]);
        ui->t.len[i] = cols(lines[i]);
    }
    ui->t.nlines = n;
    ui->t.drawn_at = now;
    fflush(stderr);
}
