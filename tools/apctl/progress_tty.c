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

/* "name  [bar]  text" in fewer than `width` columns. */
static void fit(char *out, size_t outsz, const char *name, const char *text,
                double frac, int width)
{
    size_t avail = width > 1 ? (size_t)width - 1 : 0, tl = cols(text), nl = cols(name);
    size_t bar, fixed, i, o;
    char nm[300];
    cut(nm, sizeof nm, name, nl);
    /* name + "  " + "[" bar "]" + "  " + text; a bar of at least 10 */
    fixed = (nl ? nl + 2 : 0) + 2 + 2 + tl;
    if (fixed + 10 > avail && nl > 12) { /* shorten the name: "...tail" */
        size_t keep = avail > tl + 16 + 10 ? avail - tl - 16 - 10 : 9;
        const char *tail = name;
        size_t skip = nl > keep ? nl - keep : 0;
        while (skip && *tail) {
            tail++;
            if (((unsigned char)*tail & 0xC0) != 0x80)
                skip--;
        }
        snprintf(nm, sizeof nm, "...%s", tail);
        nl = cols(nm);
        fixed = nl + 2 + 2 + 2 + tl;
    }
    if (fixed + 10 > avail) { /* no room for a bar */
        char line[800];
        snprintf(line, sizeof line, "%s%s%s", nm, nl ? "  " : "", text);
        cut(out, outsz, line, avail);
        return;
    }
    bar = avail - fixed;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    o = (size_t)snprintf(out, outsz, "%s%s[", nm, nl ? "  " : "");
    for (i = 0; i < bar && o + 1 < outsz; i++)
        out[o++] = i < (size_t)(frac * (double)bar) ? '#' : '.';
    snprintf(out + o, outsz - o, "]  %s", text);
}

size_t tty_render(const pull_ui *ui, int width, char lines[][512], size_t max)
{
    uint64_t done = 0, total = 0;
    double rate = 0, idle = 0;
    unsigned fd = 0, ft = 0;
    size_t n = 0, i;
    char text[256], a[32], b[32], r[32], e[32];
    for (i = 0; i < ui->nfiles && n + 1 < max; i++) {
        const prog_file *f = &ui->files[i];
        human(f->done, a, sizeof a);
        human(f->total, b, sizeof b);
        if (f->total)
            snprintf(text, sizeof text, "%s / %s  %3.0f%%", a, b,
                     100.0 * (double)f->done / (double)f->total);
        else
            snprintf(text, sizeof text, "%s", a);
        fit(lines[n++], 512, f->name, text,
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
    snprintf(text, sizeof text, "%s / %s  %3.0f%%  %s/s  ETA %s  %u/%u files%s", a, b,
             total ? 100.0 * (double)done / (double)total : 0.0, r, e, fd, ft,
             idle >= 2 ? "  (stalled)" : "");
    fit(lines[n++], 512, "", text, total ? (double)done / (double)total : 0, width);
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
