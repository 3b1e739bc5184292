/*
 * inbox.c - the drop folder watched by "ward-agent run".
 *
 * A file is recorded in the outbox (name, size, mtime, inode) in the same
 * transaction as its events; if the agent dies after that commit but before
 * the file reaches done/, the next scan sees it was already imported and
 * only moves it, so a file is never queued twice.
 *
 * The watcher remembers, for every file it has seen, its size, mtime and
 * inode and since when (monotonic) they have not changed; a file is taken
 * once that is settle_ms ago and writers_find sees no writer.
 */
#include "inbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import.h"
#include "outbox.h"
#include "wardsync/i18n.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "writers.h"

#define PATH_CAP 4096

/* One file of the inbox as last seen. */
struct watched {
    char *name;
    int64_t size;
    int64_t mtime_ns;
    uint64_t inode;
    int64_t since_ms; /* monotonic: when it was last seen to change */
    bool seen;        /* present in the current scan */
};

struct inbox {
    char *home;
    int64_t settle_ms;
    struct watched *files;
    size_t n_files;
    size_t cap_files;
};

int inbox_new(const char *home, int64_t settle_ms, struct inbox **out)
{
    struct inbox *inbox = calloc(1, sizeof(*inbox));
    if (!inbox || !(inbox->home = strdup(home))) {
        free(inbox);
        return -ENOMEM;
    }
    inbox->settle_ms = settle_ms;
    *out = inbox;
    return 0;
}

void inbox_destroy(struct inbox **inbox)
{
    if (!inbox || !*inbox)
        return;
    for (size_t i = 0; i < (*inbox)->n_files; i++)
        free((*inbox)->files[i].name);
    free((*inbox)->files);
    free((*inbox)->home);
    free(*inbox);
    *inbox = NULL;
}

static struct watched *find_watched(struct inbox *inbox, const char *name)
{
    for (size_t i = 0; i < inbox->n_files; i++)
        if (strcmp(inbox->files[i].name, name) == 0)
            return &inbox->files[i];
    return NULL;
}

static void forget_watched(struct inbox *inbox, struct watched *w)
{
    free(w->name);
    *w = inbox->files[--inbox->n_files];
}

/* Whether the file has stayed as it is for settle_ms; records what it is
 * now. A file seen for the first time has just "changed". */
static bool settled(struct inbox *inbox, const char *name,
                    const struct stat *st, int64_t now_ms)
{
    int64_t mtime_ns =
        (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    struct watched *w = find_watched(inbox, name);
    if (!w) {
        if (inbox->n_files == inbox->cap_files) {
            size_t cap = inbox->cap_files ? 2 * inbox->cap_files : 16;
            struct watched *more = realloc(inbox->files, cap * sizeof(*more));
            if (!more)
                return false; /* try again at the next scan */
            inbox->files = more;
            inbox->cap_files = cap;
        }
        char *copy = strdup(name);
        if (!copy)
            return false;
        w = &inbox->files[inbox->n_files++];
        w->name = copy;
        w->size = -1;
    }
    w->seen = true;
    if (w->size != (int64_t)st->st_size || w->mtime_ns != mtime_ns ||
        w->inode != (uint64_t)st->st_ino) {
        w->size = (int64_t)st->st_size;
        w->mtime_ns = mtime_ns;
        w->inode = (uint64_t)st->st_ino;
        w->since_ms = now_ms;
        if (inbox->settle_ms > 0)
            return false;
    }
    return now_ms - w->since_ms >= inbox->settle_ms;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A file a writer has not finished yet (see inbox.h). */
static bool still_being_written(const char *name)
{
    return name[0] == '.' || ends_with(name, ".tmp");
}

/* Moves dir/inbox/name to dir/<to>/name, or to "<stem>.N<ext>" when that
 * name is taken, and writes the final path into moved. */
static int move_file(const char *home, const char *name, const char *to,
                     char *moved, size_t moved_cap)
{
    char from[PATH_CAP];
    const char *dot = strrchr(name, '.');
    int stem_len = dot && dot != name ? (int)(dot - name) : (int)strlen(name);
    const char *ext = dot && dot != name ? dot : "";

    snprintf(from, sizeof(from), "%s/inbox/%s", home, name);
    for (int attempt = 0; attempt < 1000; attempt++) {
        if (attempt == 0)
            snprintf(moved, moved_cap, "%s/%s/%s", home, to, name);
        else
            snprintf(moved, moved_cap, "%s/%s/%.*s.%d%s", home, to, stem_len,
                     name, attempt, ext);
        /* link + unlink never replaces an existing file, unlike rename. */
        if (link(from, moved) == 0) {
            if (unlink(from) < 0)
                ws_warn("inbox", "could not remove \"%s\": %s", from,
                        strerror(errno));
            return 0;
        }
        if (errno == EEXIST)
            continue;
        if (errno == EPERM || errno == EXDEV || errno == ENOSYS) {
            /* Filesystem without hard links: best effort rename. */
            if (access(moved, F_OK) == 0)
                continue;
            if (rename(from, moved) == 0)
                return 0;
        }
        int rc = -errno;
        ws_error("inbox", "could not move \"%s\" to \"%s\": %s", from, moved,
                 strerror(-rc));
        return rc;
    }
    ws_error("inbox",
             "could not move \"%s\": too many files named like it "
             "in %s/",
             from, to);
    return -EEXIST;
}

/* Writes the report beside the rejected file (moved + ".report.txt"): a
 * heading for the clerk, the reasons (FILE:LINE:COLUMN: reason), and what
 * to do next. */
static void write_report(const char *moved, const char *name, const char *why,
                         const char *text, size_t len)
{
    char path[PATH_CAP + 16];
    snprintf(path, sizeof(path), "%s.report.txt", moved);
    FILE *f = fopen(path, "w");
    if (!f) {
        ws_error("inbox", "could not write report \"%s\": %s", path,
                 strerror(errno));
        return;
    }
    /* UTF-8 with a BOM, so that Notepad and Excel show the Vietnamese. */
    fputs("\xef\xbb\xbf", f);
    fprintf(f,
            _("%s was not imported: %s.\n"
              "Nothing of this file was queued; the file itself is beside "
              "this report.\n\n"),
            name, why);
    fwrite(text, 1, len, f);
    fputs(_("\nEach line above says FILE:LINE:COLUMN: what is wrong "
            "(LINE counts the header as line 1).\n"
            "Correct the file and drop the whole file into inbox/ "
            "again; rows that\nwere already queued are not queued "
            "twice.\n"),
          f);
    if (fclose(f) != 0)
        ws_error("inbox", "could not write report \"%s\": %s", path,
                 strerror(errno));
}

static int reject_file(const char *home, const char *name, const char *why,
                       const char *text, size_t len)
{
    char moved[PATH_CAP];
    int rc = move_file(home, name, "rejected", moved, sizeof(moved));
    if (rc < 0)
        return rc;
    write_report(moved, name, why, text, len);
    ws_warn("inbox", "file rejected file=%s moved_to=%s", name, moved);
    return 0;
}

/* Handles one file. Returns 1 when it went to done/, 2 to rejected/, 3 when
 * it is not ours to handle (a folder, gone meanwhile), 0 when it stays in
 * the inbox (retry later), or a negative errno. */
static int handle_file(const char *home, const char *name,
                       struct outbox *outbox, const struct ws_catalogue *cat)
{
    char path[PATH_CAP];
    char moved[PATH_CAP];
    struct stat st;
    char *report_text = NULL;
    size_t report_len = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/inbox/%s", home, name);
    if (lstat(path, &st) < 0 || S_ISDIR(st.st_mode))
        return 3;

    int kind = import_kind_from_filename(name);
    if (!S_ISREG(st.st_mode) || kind < 0) {
        char why[512];
        int n = snprintf(
            why, sizeof(why), _("%s: not imported: %s\n"), name,
            !S_ISREG(st.st_mode)
                ? _("not a regular file")
                : _("the name must start with the kind, in English or "
                    "Vietnamese (ballots or phieu, petitions or don-thu, "
                    "reception or tiep-cong-dan, remediation or khac-phuc, "
                    "inspections or kiem-tra, rotations or luan-chuyen; "
                    "diacritics and case do not matter) and end in .csv or "
                    ".xlsx (e.g. \"Tiếp công dân tháng 10.csv\")"));
        if (n < 0 || (size_t)n >= sizeof(why))
            n = (int)strlen(why);
        return reject_file(home, name,
                           _("its name or type is not one the "
                             "drop folder takes"),
                           why, (size_t)n) < 0
                   ? 0
                   : 2;
    }

    struct outbox_source source = {
        .name = name,
        .size = (int64_t)st.st_size,
        .mtime_ns =
            (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
        .inode = (uint64_t)st.st_ino,
    };
    bool imported = false;
    if ((rc = outbox_source_imported(outbox, &source, &imported)) < 0)
        return rc;
    if (imported) {
        ws_info("inbox", "file already queued, moving it to done file=%s",
                name);
        return move_file(home, name, "done", moved, sizeof(moved)) < 0 ? 0 : 1;
    }

    FILE *report = open_memstream(&report_text, &report_len);
    if (!report)
        return -ENOMEM;
    struct import_result result;
    struct import_options options = {
        .label = name,
        .source = &source,
        .report = report,
        .max_reported = IMPORT_MAX_REPORTED,
    };
    rc = import_file(outbox, cat, (enum import_kind)kind, path, &options,
                     &result);
    fclose(report);
    if (rc >= 0 && kind == IMPORT_BALLOTS && result.no_reference)
        ws_info("inbox",
                "no reference data from the hub yet, checked with the "
                "shared rules only file=%s",
                name);

    if (rc == 0) {
        ws_info("inbox",
                "file queued file=%s kind=%s rows=%zu count=%zu "
                "already_imported=%zu repeated=%zu first_seq=%llu "
                "last_seq=%llu",
                name, import_kind_name((enum import_kind)kind), result.rows,
                result.queued, result.already_imported, result.repeated,
                (unsigned long long)result.first_seq,
                (unsigned long long)result.last_seq);
        if (result.note[0])
            ws_info("inbox", "%s: %s", name, result.note);
        rc = move_file(home, name, "done", moved, sizeof(moved)) < 0 ? 0 : 1;
    } else if (rc == IMPORT_REFUSED) {
        char why[256];
        if (result.identical)
            snprintf(why, sizeof(why), "%s",
                     _("the same file was imported before"));
        else if (result.bad_rows)
            snprintf(why, sizeof(why), _("%zu of its %zu rows have errors"),
                     result.bad_rows, result.rows);
        else
            snprintf(why, sizeof(why), _("it cannot be read as a %s file"),
                     import_kind_name((enum import_kind)kind));
        ws_warn("inbox",
                "file refused file=%s rows=%zu bad_rows=%zu "
                "identical=%s",
                name, result.rows, result.bad_rows,
                result.identical ? "yes" : "no");
        rc = reject_file(home, name, why, report_text, report_len) < 0 ? 0 : 2;
    } else {
        /* I/O or database error: leave the file for the next scan. */
        ws_warn("inbox", "could not import file, will retry file=%s", name);
        rc = 0;
    }
    free(report_text);
    return rc;
}

int inbox_scan(struct inbox *inbox, struct outbox *outbox,
               const struct ws_catalogue *cat, struct inbox_scan_result *result)
{
    static struct ws_log_limit limit;
    char dir_path[PATH_CAP];
    struct dirent **names = NULL;
    const char *home = inbox->home;
    int rc = 0;

    memset(result, 0, sizeof(*result));
    snprintf(dir_path, sizeof(dir_path), "%s/inbox", home);
    /* Sorted, so files are imported in a predictable order. */
    int n = scandir(dir_path, &names, NULL, alphasort);
    if (n < 0) {
        rc = -errno;
        ws_log_limited(&limit, 60000, WS_LOG_ERROR, "inbox",
                       "could not read folder \"%s\": %s", dir_path,
                       strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < inbox->n_files; i++)
        inbox->files[i].seen = false;
    int64_t now = ws_monotonic_ms();
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (still_being_written(name)) {
            static struct ws_log_limit writing_limit;
            ws_log_limited(&writing_limit, 60000, WS_LOG_INFO, "inbox",
                           "waiting for a file still being written file=%s",
                           name);
            result->waiting++;
            continue;
        }
        char path[PATH_CAP + 256];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir_path, name);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (!settled(inbox, name, &st, now)) {
                ws_debug("inbox",
                         "waiting for file to settle file=%s "
                         "size=%lld settle_ms=%lld",
                         name, (long long)st.st_size,
                         (long long)inbox->settle_ms);
                result->waiting++;
                continue;
            }
            pid_t writer = 0;
            int wrc = writers_find(st.st_dev, st.st_ino, &writer);
            if (wrc < 0) {
                static struct ws_log_limit proc_limit;
                ws_log_limited(&proc_limit, 60000, WS_LOG_WARN, "inbox",
                               "could not look for writers in /proc: %s; "
                               "relying on the settle time only",
                               strerror(-wrc));
            } else if (writer > 0) {
                static struct ws_log_limit writer_limit;
                ws_log_limited(&writer_limit, 60000, WS_LOG_INFO, "inbox",
                               "waiting: file is open for writing file=%s "
                               "pid=%d",
                               name, (int)writer);
                result->waiting++;
                continue;
            }
        }
        int handled = handle_file(home, name, outbox, cat);
        struct watched *w = find_watched(inbox, name);
        if (handled == 1)
            result->imported++;
        else if (handled == 2)
            result->rejected++;
        else if (handled != 3)
            result->waiting++;
        if (handled != 0 && w)
            forget_watched(inbox, w);
        if (handled < 0 && rc == 0)
            rc = handled;
    }
    /* Files gone from the inbox are forgotten. */
    for (size_t i = 0; i < inbox->n_files;) {
        if (!inbox->files[i].seen)
            forget_watched(inbox, &inbox->files[i]);
        else
            i++;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
