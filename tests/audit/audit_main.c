/*
 * audit_main.c - wardsync-audit: the auditor of the publication rule on
 * the files of one city pull (audit.h).
 *
 *   wardsync-audit [-k N] [--flag-min N] --org-units FILE
 *                  (DIR | --ballot-aggregates FILE [--indicators FILE])
 *
 * DIR is a city-pull output folder (DIR/ballot_aggregates.csv and
 * DIR/indicators.csv). Prints one line per leak and a summary. Exit 0: no
 * leak; 1: a leak or an undecided cell; 2: usage or a file that could not
 * be read.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"

static const char USAGE[] =
    "usage: wardsync-audit [-k N] [--flag-min N] --org-units FILE\n"
    "                      (DIR | --ballot-aggregates FILE "
    "[--indicators FILE])\n";

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"org-units", required_argument, NULL, 'o'},
        {"ballot-aggregates", required_argument, NULL, 'b'},
        {"indicators", required_argument, NULL, 'i'},
        {"flag-min", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct audit_files files = {0};
    int k = 10, flag_min = 10, c;
    while ((c = getopt_long(argc, argv, "k:h", options, NULL)) != -1) {
        switch (c) {
        case 'o':
            files.org_units = optarg;
            break;
        case 'b':
            files.ballot_aggregates = optarg;
            break;
        case 'i':
            files.indicators = optarg;
            break;
        case 'f':
            flag_min = atoi(optarg);
            break;
        case 'k':
            k = atoi(optarg);
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    char ba[4096], ind[4096];
    if (optind < argc) {
        snprintf(ba, sizeof ba, "%s/ballot_aggregates.csv", argv[optind]);
        snprintf(ind, sizeof ind, "%s/indicators.csv", argv[optind]);
        files.ballot_aggregates = ba;
        files.indicators = ind;
    }
    if (!files.org_units || !files.ballot_aggregates || k < 1) {
        fputs(USAGE, stderr);
        return 2;
    }
    struct audit_result res;
    char err[512];
    if (audit_run(&files, k, flag_min, stdout, &res, err, sizeof err) < 0) {
        fprintf(stderr, "wardsync-audit: %s\n", err);
        return 2;
    }
    printf("audit: %ld suppressed cells and %ld sums of suppressed cells "
           "checked (%ld unknowns, %ld equations): %ld leaks, %ld "
           "undecided\n",
           res.cells, res.groups, res.vars, res.rows, res.leaks, res.undecided);
    return res.leaks || res.undecided ? 1 : 0;
}
