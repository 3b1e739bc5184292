/*
 * template.c - a ready header row and one example row of each kind.
 */
#include "template.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "settings.h"
#include "wardsync/csv.h"
#include "wardsync/i18n.h"
#include "wardsync/names.h"

/* The example row's cells, by column; NULL is an empty cell. */
static void example(enum import_kind kind, bool vi, const char *today,
                    const char **cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cells[i] = NULL;
    switch (kind) {
    case IMPORT_BALLOTS:
        cells[0] = "VI-DU-R1"; /* survey */
        cells[1] = "staff";    /* form: 36 items */
        cells[2] = "VI-DU-S01";
        cells[3] = "1";
        cells[4] = today;
        for (size_t i = 5; i < 5 + 36 && i < n; i++)
            cells[i] = i % 3 == 0 ? "2" : "1";
        break;
    case IMPORT_PETITIONS:
        cells[0] = "VI-DU-001";
        cells[1] = vi ? ws_petition_kind_name_vi(1) : ws_petition_kind_name(1);
        cells[2] =
            vi ? ws_petition_channel_name_vi(1) : ws_petition_channel_name(1);
        cells[3] =
            vi ? ws_petition_status_name_vi(1) : ws_petition_status_name(1);
        cells[4] = vi ? "có" : "yes";
        cells[5] = today;
        cells[7] = today;
        cells[8] = _("example: replace this row with a real one");
        break;
    case IMPORT_RECEPTION:
        cells[0] = "VI-DU-001";
        cells[1] = today;
        cells[2] = vi ? ws_host_role_name_vi(1) : ws_host_role_name(1);
        cells[3] =
            vi ? ws_reception_mode_name_vi(1) : ws_reception_mode_name(1);
        cells[4] = "3";
        cells[5] = "1";
        break;
    case IMPORT_REMEDIATION:
        cells[0] = "VI-DU-R1";
        cells[1] = "VI-DU-S01";
        cells[2] = vi ? ws_remediation_status_name_vi(1)
                      : ws_remediation_status_name(1);
        cells[3] = today;
        cells[4] = today;
        break;
    case IMPORT_INSPECTIONS:
        cells[0] = "VI-DU-KT-01";
        cells[1] = "VI-DU-DOAN";
        cells[2] = "VI-DU-DV";
        cells[3] = today;
        cells[4] =
            vi ? ws_inspection_kind_name_vi(2) : ws_inspection_kind_name(2);
        cells[5] = "0";
        cells[6] = "0";
        cells[7] = _("example: replace this row with a real one");
        break;
    case IMPORT_ROTATIONS:
        cells[0] = "VI-DU-CB-01";
        cells[1] = "VI-DU-CV";
        cells[2] = "VI-DU-DV";
        cells[3] = "0";
        cells[4] = today;
        cells[5] = vi ? ws_rotation_kind_name_vi(1) : ws_rotation_kind_name(1);
        break;
    default:
        break;
    }
}

int template_write(FILE *f, enum import_kind kind, bool vi)
{
    size_t n = import_column_count(kind);
    const char *cells[64];
    char today[16];
    time_t now = time(NULL);
    struct tm tm;

    if (n == 0 || n > sizeof(cells) / sizeof(cells[0]))
        return -EINVAL;
    if (!gmtime_r(&now, &tm) ||
        strftime(today, sizeof(today), "%Y-%m-%d", &tm) == 0)
        return -EIO;
    fputs("\xef\xbb\xbf", f);
    for (size_t c = 0; c < n; c++) {
        if (c)
            fputc(',', f);
        ws_csv_write_field(f, import_column_name(kind, c, vi));
    }
    fputs("\r\n", f);
    example(kind, vi, today, cells, n);
    for (size_t c = 0; c < n; c++) {
        if (c)
            fputc(',', f);
        ws_csv_write_field(f, cells[c]);
    }
    fputs("\r\n", f);
    return ferror(f) ? -EIO : 0;
}

int template_command(enum import_kind kind, const char *path)
{
    bool vi = strcmp(ws_i18n_language(), "vi") == 0;
    FILE *f = stdout;

    if (path && strcmp(path, "-") != 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, _("ward-agent: could not create \"%s\": %s\n"),
                    path, strerror(errno));
            return errno == EEXIST ? EXIT_USAGE : EXIT_IO;
        }
        f = fdopen(fd, "w");
        if (!f) {
            close(fd);
            return EXIT_IO;
        }
    }
    int rc = template_write(f, kind, vi);
    if (f != stdout) {
        if (fclose(f) != 0)
            rc = -EIO;
    } else if (fflush(f) != 0) {
        rc = -EIO;
    }
    if (rc < 0) {
        fprintf(stderr, _("ward-agent: could not write the template: %s\n"),
                strerror(-rc));
        return EXIT_IO;
    }
    if (f != stdout)
        fprintf(stderr,
                _("wrote %s: a header row and one example row; replace the "
                  "example with real rows, then save as \"CSV UTF-8 (Comma "
                  "delimited) (*.csv)\"\n"),
                path);
    return EXIT_OK;
}
